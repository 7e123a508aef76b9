"""The command line: help without torch, every TrainConfig field documented, one-line user errors,
tracebacks for bugs."""
import dataclasses
import subprocess
import sys

import pytest

import hglearn.errors as errors
from hglearn.cli import main
from hglearn.config import TrainConfig, field_docs

NO_TORCH = """
import sys
from hglearn.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("torch imported" if "torch" in sys.modules else "torch not imported")
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"]])
def test_help_does_not_import_torch(argv):
    done = subprocess.run([sys.executable, "-c", NO_TORCH.format(argv=argv)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage: hglearn" in done.stdout and done.stdout.strip().endswith("torch not imported")


def test_train_help_lists_every_trainconfig_field_with_type_default_and_doc(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    docs = field_docs(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        assert docs.get(field.name), f"TrainConfig.{field.name} has no docstring"
        line = next((l for l in out.splitlines() if l.strip().startswith(f"--{field.name}=")), None)
        assert line is not None, field.name
        assert docs[field.name] in line and "default:" in line


USER_ERRORS = [errors.ConfigError, errors.DatasetError, errors.DownloadError, errors.CheckpointError,
               errors.CourseError, errors.TrainingError]


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda e: e.__name__)
def test_each_user_error_is_one_line(error, monkeypatch, capsys):
    import hglearn.train

    def fail(cfg):
        raise error("what went wrong and what to do")

    monkeypatch.setattr(hglearn.train, "train", fail)
    assert issubclass(error, errors.HglearnError)
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert err == "hglearn train: error: what went wrong and what to do\n"


@pytest.mark.parametrize("bug", [TypeError, ValueError, KeyError, RuntimeError])
def test_a_bug_keeps_its_traceback(bug, monkeypatch):
    import hglearn.train

    def broken(cfg):
        raise bug("a bug in the library")

    monkeypatch.setattr(hglearn.train, "train", broken)
    with pytest.raises(bug, match="a bug in the library"):
        main(["train"])


def test_bad_options_are_one_line_config_errors(capsys):
    assert main(["train", "--lr=abc"]) == 2
    assert "--lr=abc: expected float" in capsys.readouterr().err
    assert main(["train", "--no_such_key=1"]) == 2
    err = capsys.readouterr().err
    assert "no field 'no_such_key'" in err and "batch_size" in err and "lr_milestones" in err
    assert main(["train", "--optimizer=sgd"]) == 2
    assert "optimizer" in capsys.readouterr().err
    assert main(["train", "--input_res=72"]) == 2  # the 4-level hourglass needs a multiple of 64
    assert "multiple of 64" in capsys.readouterr().err
    assert main(["train", "--model=no-such-model"]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert main(["train", "--synth_images=8"]) == 2
    assert "synth_images must be at least batch_size (32)" in capsys.readouterr().err
    assert main(["profile", "no-such-model"]) == 2
    assert "newell-hg8" in capsys.readouterr().err  # the message lists the presets


def test_a_config_file_that_is_not_toml_is_one_line(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("lr = [")
    assert main(["train", str(tmp_path / "bad.toml")]) == 2
    assert "bad.toml: not valid TOML" in capsys.readouterr().err
    assert main(["train", str(tmp_path)]) == 2  # a folder
    assert "is a folder" in capsys.readouterr().err
    (tmp_path / "typo.toml").write_text("learning_rate = 0.1\n")
    assert main(["train", str(tmp_path / "typo.toml")]) == 2
    assert "typo.toml: TrainConfig has no field 'learning_rate'" in capsys.readouterr().err


def test_python_dash_m_hglearn_is_the_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "hglearn", "export", str(tmp_path / "missing.pt"), "out.pt"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "checkpoint not found" in done.stderr and not (tmp_path / "out.pt").exists()


def test_a_bare_key_value_is_explained_not_taken_for_a_file(capsys):
    assert main(["train", "lr=1"]) == 2
    assert "options are written --lr=1" in capsys.readouterr().err


def test_export_refuses_a_missing_folder_and_explains_its_arguments(tmp_path, capsys):
    assert main(["export", str(tmp_path / "a.pt"), str(tmp_path / "no" / "such" / "model.pt")]) == 2
    assert "does not exist; create it first" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = capsys.readouterr().out
    assert "written by hglearn train" in out and "cannot be resumed" in out


def test_course_names_are_optional(capsys):
    from hglearn.cli import build_parser

    args = build_parser().parse_args(["course", "record"])
    assert args.names == [] and not args.force
    with pytest.raises(SystemExit):
        build_parser().parse_args(["course"])
    required = next(line for line in capsys.readouterr().err.splitlines() if "required" in line)
    assert required.endswith("required: action")  # not the names


def test_a_file_that_is_not_a_checkpoint_gets_no_advice_to_load_it_unsafely(tmp_path):
    import pickle

    from hglearn.checkpoints import load_checkpoint

    with open(tmp_path / "object.pt", "wb") as f:
        pickle.dump({"model": print}, f, protocol=2)  # a pickle that would call code
    with pytest.raises(errors.CheckpointError) as caught:
        load_checkpoint(tmp_path / "object.pt")
    assert "weights_only" not in str(caught.value) and "object.pt" in str(caught.value)
