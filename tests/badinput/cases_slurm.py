"""Bad `kindling slurm` input: node, GPU and port counts, time limits, partition names, the recipe, and
`--submit` where Slurm is not installed. Each is refused before a script is printed, written or sent."""

from __future__ import annotations

from badinput.harness import Case
from badinput.trainargs import write

RECIPE = "data:\n  name: digits\nmodel:\n  name: mlp\ntrain:\n  epochs: 2\n"


def slurm(*args: str, recipe: str = RECIPE):
    """`kindling slurm FOLDER/recipe.yaml ARGS` (the recipe written first)."""

    def build(folder):
        return ["slurm", write(folder / "recipe.yaml", recipe), "--output", folder / "job.sh", *args]

    return build


CASES = [
    Case("slurm-zero-nodes", slurm("--nodes", "0"), "--nodes 0: a job needs at least one node"),
    Case("slurm-negative-nodes", slurm("--nodes", "-2"), "--nodes -2"),
    Case("slurm-nodes-word", slurm("--nodes", "two"), "--nodes"),
    Case("slurm-negative-gpus", slurm("--gpus-per-node", "-1"), "--gpus-per-node -1 is negative"),
    Case("slurm-time-words", slurm("--time", "4h"), "'4h' is not a time limit: write HH:MM:SS"),
    Case("slurm-time-minutes-60", slurm("--time", "01:60:00"), "is not a time limit"),
    Case("slurm-time-too-short", slurm("--time", "00:01:30"), "leaves no training before the checkpoint"),
    Case("slurm-partition-newline", slurm("--partition", "gpu\n#SBATCH --x"), "is not a partition name"),
    Case("slurm-port-0", slurm("--port", "0"), "--port 0 is not a port number"),
    Case("slurm-recipe-bad-key", slurm(recipe="trian:\n  epochs: 2\n"), "did you mean 'train'"),
    Case("slurm-set-bad-value", slurm("--set", "train.epochs=0"), "train.epochs = 0"),
    Case(
        "slurm-recipe-missing",
        lambda folder: ["slurm", folder / "nowhere.yaml", "--nodes", "1"],
        "does not exist",
    ),
    Case("slurm-submit-without-sbatch", slurm("--submit"), "sbatch is not on PATH"),
]
