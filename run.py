"""Set up hglearn in a local virtual environment and run the main job or the tests.

    python3 run.py start   # set up, then run the course's main job
    python3 run.py test    # set up, then run the whole test suite (pytest --nbval)

Needs only Python >= 3.10. The environment lives in .venv next to this file (HGLEARN_VENV moves it).
PyTorch is installed first, on its own, so that nothing afterwards replaces it: HGLEARN_TORCH
chooses the requirement (default below). On Linux without an NVIDIA GPU, PyTorch's CPU-only wheel
index is added when it can be reached, so no CUDA packages are downloaded.
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HGLEARN_VENV", ROOT / ".venv"))
TORCH = os.environ.get("HGLEARN_TORCH", "torch==2.13.0")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # PyTorch's documented CPU-only wheel index
MAIN_JOB = ["hglearn", "train"]  # the course's default run on SynthPose


def venv_bin(name: str) -> Path:
    scripts = VENV / ("Scripts" if os.name == "nt" else "bin")
    return scripts / (name + (".exe" if os.name == "nt" else ""))


def run(command: list, **kwargs) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], check=True, **kwargs)


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
    """Create the environment and install torch, then the package with its dev extras (once)."""
    started = time.perf_counter()
    if not venv_bin("python").exists():
        run([sys.executable, "-m", "venv", VENV])
    python = venv_bin("python")
    has_torch = subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0
    if not has_torch:
        run([python, "-m", "pip", "install", TORCH, *torch_index_args()])
    # Reinstall only when the project's requirements change.
    stamp = VENV / ".hglearn-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        run([python, "-m", "pip", "install", "-e", f"{ROOT}[dev]"])
        stamp.write_text(digest)
    print(f"environment ready in {time.perf_counter() - started:.0f} s: {VENV}", flush=True)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("start", "test"):
        print(__doc__)
        return 2
    setup()
    try:
        if sys.argv[1] == "start":
            run([venv_bin(MAIN_JOB[0]), *MAIN_JOB[1:], *sys.argv[2:]], cwd=ROOT)
        else:
            run([venv_bin("python"), "-m", "pytest", "--nbval", *sys.argv[2:]], cwd=ROOT)
    except subprocess.CalledProcessError as error:
        return error.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
