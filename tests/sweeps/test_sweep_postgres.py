"""Several machines, one study: two `kindling sweep` processes, each in its own folder as on two machines,
given the same recipe, space and `--storage postgresql://...` (a real PostgreSQL server on loopback),
finish the N trials between them, each trial run once by one of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sweep_helpers import study_of, write_recipe

TRIALS = 6


def test_two_processes_share_one_postgres_study(postgres_url, tmp_path):
    machines = [tmp_path / "a", tmp_path / "b"]
    argv = [
        "sweep",
        "tiny.yaml",
        "--param",
        "optim.lr=loguniform:1e-3:3e-2",
        "--param",
        "data.augment=choice:none,shift",
    ]
    argv += ["--trials", str(TRIALS), "--storage", postgres_url, "--name", "shared"]
    procs = []
    for folder in machines:
        folder.mkdir()
        write_recipe(folder, epochs=3)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "kindling", *argv],
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [proc.communicate(timeout=900)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs

    trials = study_of(Path("unused"), "shared", postgres_url).get_trials()
    assert sorted(t.number for t in trials) == list(range(TRIALS))  # N trials: none lost, none added
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    ran_in = {}
    for t in trials:
        where = [
            m for m in machines if (m / "runs" / "shared" / f"trial-{t.number:04d}" / "config.yaml").is_file()
        ]
        assert len(where) == 1, f"trial {t.number} ran in {where}"  # run once, by one of them
        ran_in[t.number] = where[0]
        assert (
            Path(t.user_attrs["kindling.dir"])
            == (where[0] / "runs" / "shared" / f"trial-{t.number:04d}").resolve()
        )
    for folder, output in zip(machines, outputs):
        started = {
            int(line.split()[1])
            for line in output.splitlines()
            if line.startswith("trial ") and " starts:" in line
        }
        assert started == {n for n, m in ran_in.items() if m == folder}, output
    # each process ends with the whole study's table; the one holding the best trial links it
    holder = ran_in[study_of(Path("unused"), "shared", postgres_url).best_trial.number]
    assert (holder / "runs" / "shared" / "best" / "model.safetensors").is_file()


def test_a_second_recipe_cannot_join(postgres_url, tmp_path, capsys):
    """The same study name with another search space (on another machine) is refused in one line,
    before anything is written there."""
    import os

    from kindling.cli.main import main

    args = ["sweep", "tiny.yaml", "--trials", "1", "--storage", postgres_url, "--name", "taken"]
    cwd = os.getcwd()
    try:
        for folder, space, code in ((tmp_path / "a", "0.001:0.01", 0), (tmp_path / "b", "0.002:0.01", 2)):
            folder.mkdir()
            write_recipe(folder, epochs=1)
            os.chdir(folder)
            capsys.readouterr()
            assert main([*args, "--param", f"optim.lr=uniform:{space}"]) == code
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "created for another recipe or search space" in err[0], err
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["tiny.yaml"]
