"""`kindling serve`: any Bundle over HTTP (FastAPI under uvicorn) with micro-batching and a web page."""
