"""Set up hglearn in a local virtual environment, then train the course's default model or run the tests.

    python3 run.py setup   # set up only: the environment in .venv, PyTorch, hglearn and its tools
    python3 run.py start   # set up, then train the course's default model (`hglearn train`)
    python3 run.py test    # set up, then run the whole test suite (pytest --nbval)

Extra arguments go to the command: `python3 run.py start --epochs=10`, `python3 run.py test -k blocks`.
`start` over a run that has a checkpoint (runs/synth/last.pt) continues it; pass another
`--out_dir=...` for a fresh one. Ctrl-C stops training after saving the current step.

Needs only Python >= 3.10. The environment lives in .venv next to this file (HGLEARN_VENV moves it);
pip's output goes to .venv/setup.log. PyTorch is installed first, on its own, so that nothing
afterwards replaces it: HGLEARN_TORCH chooses the requirement (default below). On Linux without an
NVIDIA GPU, PyTorch's CPU-only wheel index is added when it can be reached, so no CUDA packages are
downloaded.
"""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HGLEARN_VENV", ROOT / ".venv"))
LOG = VENV / "setup.log"
TORCH = os.environ.get("HGLEARN_TORCH", "torch==2.13.0")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # PyTorch's documented CPU-only wheel index
DEFAULT_OUT_DIR = "runs/synth"  # TrainConfig.out_dir's default (configs/synth-cpu.toml)


class SetupFailed(Exception):
    """A set-up step failed; its output is in LOG."""


def venv_bin(name: str) -> Path:
    scripts = VENV / ("Scripts" if os.name == "nt" else "bin")
    return scripts / (name + (".exe" if os.name == "nt" else ""))


def step(what: str, command: list) -> None:
    """Run one set-up step with its output appended to LOG; print one line with its duration."""
    print(f"{what} ...", end=" ", flush=True)
    started = time.perf_counter()
    with open(LOG, "a") as log:
        log.write(f"\n$ {' '.join(map(str, command))}\n")
        log.flush()
        done = subprocess.run([str(c) for c in command], stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        print("failed")
        tail = LOG.read_text(errors="replace").strip().splitlines()[-15:]
        raise SetupFailed("\n".join(["", *("    " + line for line in tail), "",
                                     f"the whole output is in {LOG}"]))
    print(f"{time.perf_counter() - started:.0f} s", flush=True)


def reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def torch_index_args() -> list[str]:
    """Extra pip arguments that select CPU-only PyTorch wheels on Linux machines without a GPU."""
    if not sys.platform.startswith("linux") or shutil.which("nvidia-smi"):
        return []  # macOS and Windows wheels carry no CUDA; with a GPU the CUDA build is wanted
    return ["--extra-index-url", CPU_INDEX] if reachable("download.pytorch.org") else []


def setup() -> None:
    """Create the environment and install torch, then the package with its dev extras (once each)."""
    started = time.perf_counter()
    if not venv_bin("python").exists():
        VENV.mkdir(parents=True, exist_ok=True)
        LOG.write_text("")
        step(f"creating the environment in {VENV}", [sys.executable, "-m", "venv", VENV])
    python = venv_bin("python")
    if subprocess.run([python, "-c", "import torch"], capture_output=True).returncode:
        step(f"installing PyTorch ({TORCH})", [python, "-m", "pip", "install", "--progress-bar", "off",
                                              TORCH, *torch_index_args()])
    # Reinstall only when the project's requirements change.
    stamp = VENV / ".hglearn-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        step("installing hglearn with its development tools (JupyterLab, pytest, nbval, ...)",
             [python, "-m", "pip", "install", "--progress-bar", "off", "-e", f"{ROOT}[dev]"])
        stamp.write_text(digest)
    print(f"environment ready in {time.perf_counter() - started:.0f} s: {VENV} "
          f"(open the notebooks with {venv_bin('jupyter')} lab)", flush=True)


def option(words: list[str], key: str) -> str | None:
    """The value of --key=value among words, or None."""
    return next((w.split("=", 1)[1] for w in words if w.startswith(f"--{key}=")), None)


def start_arguments(words: list[str]) -> list[str]:
    """`hglearn train`'s arguments: continue an existing run unless told otherwise (and say so)."""
    if option(words, "resume") is not None or (words and not words[0].startswith("--")):
        return words  # the user chose (a resume, or a config file with its own out_dir)
    out_dir = option(words, "out_dir") or DEFAULT_OUT_DIR
    if not (ROOT / out_dir / "last.pt").is_file():
        return words
    print(f"{out_dir}/last.pt exists: continuing that run (--resume=last). For a fresh run instead: "
          f"python3 run.py start --out_dir=runs/another (or delete {out_dir})", flush=True)
    return [*words, "--resume=last"]


def run_child(command: list) -> int:
    """Run a command in the foreground and return its exit status. Ctrl-C reaches the child (same
    process group) and is handled there, so this process only waits; a SIGTERM sent to this process
    is passed on."""
    child = subprocess.Popen([str(c) for c in command], cwd=ROOT)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda number, frame: child.send_signal(signal.SIGTERM))
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("setup", "start", "test"):
        print(__doc__)
        return 2
    try:
        setup()
    except SetupFailed as failure:
        print(f"set-up failed:{failure}", file=sys.stderr)
        return 1
    command, words = sys.argv[1], sys.argv[2:]
    if command == "start":
        return run_child([venv_bin("hglearn"), "train", *start_arguments(words)])
    if command == "test":
        return run_child([venv_bin("python"), "-m", "pytest", "--nbval", *words])
    return 0


if __name__ == "__main__":
    sys.exit(main())
