"""The dataset catalogue is the one source of dataset names, splits, joint sets and downloads.

Two kinds of test: a dataset entry added to (or changed in) `DATASETS` is what `make_dataset`,
`eval_split`, `prepare` and the `data` commands then use, with nothing else edited; and no file
of the library other than catalog.py spells out a list of dataset names.
"""
import argparse
import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hglearn.data.catalog import DATASETS, DatasetSpec, dataset_spec, eval_split
from hglearn.cli import add_data_commands
from hglearn.data.prepare import prepare
from hglearn.data.records import PoseRecord, save_prepared
from hglearn.data.splits import make_dataset
from hglearn.errors import ConfigError
from hglearn.joints import FLIC, LSP, MPII

REPO = Path(__file__).resolve().parents[1]
DATASET_NAMES = frozenset(DATASETS)  # the names the rule below looks for
# Files that may hold a collection of those names, and why.
ALLOWED = {"hglearn/data/catalog.py": "the catalogue itself"}


def person(num_joints: int) -> PoseRecord:
    return PoseRecord(image="images/a.jpg", joints=np.tile([[20.0, 30.0]], (num_joints, 1)),
                      visible=np.ones(num_joints, bool), annotated=np.ones(num_joints, bool),
                      center=np.array([20.0, 30.0]), scale=1.0)


# ---------------------------------------------------------------------------------------------
# What the catalogue says is what the data wing does

def test_the_shipped_entries():
    assert {name: spec.joint_set for name, spec in DATASETS.items()} == {
        "synth": MPII, "mpii": MPII, "lsp": LSP, "lspet": LSP, "flic": FLIC, "lsp+lspet": LSP}
    assert {name: spec.eval_split for name, spec in DATASETS.items()} == {
        "synth": "val", "mpii": "val", "lsp": "test", "lspet": None, "flic": "test", "lsp+lspet": "test"}
    assert all(spec.name == name for name, spec in DATASETS.items())
    assert all(spec.eval_split in spec.splits for spec in DATASETS.values() if spec.eval_split)


def test_a_combined_entry_is_made_of_datasets_of_its_joints_and_has_their_splits():
    for spec in DATASETS.values():
        if spec.parts:
            parts = [dataset_spec(part) for part in spec.parts]
            assert all(part.joint_set == spec.joint_set and not part.parts for part in parts), spec.name
            assert set(spec.splits) == {split for part in parts for split in part.splits}, spec.name
            assert not spec.sources and not spec.resources, spec.name  # its parts are downloaded and prepared


def test_every_download_has_an_address_and_no_invented_checksum():
    for spec in DATASETS.values():
        for resource in spec.resources:
            assert resource.url.startswith(("http://", "https://")) and resource.url.endswith(resource.filename)
            assert resource.sha256 is None or len(resource.sha256) == 64
    assert not DATASETS["synth"].resources and not DATASETS["synth"].sources  # generated


def test_a_new_entry_sets_the_joint_set_splits_and_eval_split(tmp_path, monkeypatch):
    monkeypatch.setitem(DATASETS, "tiny", DatasetSpec("tiny", LSP, splits=("train", "holdout"), eval_split="holdout"))
    assert dataset_spec("tiny").joint_set is LSP and eval_split("tiny") == "holdout"
    save_prepared([person(LSP.num_joints)] * 2, tmp_path / "annotations" / "holdout.json")
    dataset = make_dataset("tiny", eval_split("tiny"), root=str(tmp_path), input_res=64)
    assert dataset.joint_set is LSP and len(dataset) == 2
    with pytest.raises(ConfigError, match="no split 'test'; choose one of train, holdout"):
        make_dataset("tiny", "test", root=str(tmp_path))
    # The catalogue's joint set decides the joint count a prepared file must have.
    monkeypatch.setitem(DATASETS, "tiny", dataclasses.replace(DATASETS["tiny"], joint_set=MPII))
    with pytest.raises(ValueError, match="expected 16 joints, got 14"):
        make_dataset("tiny", "holdout", root=str(tmp_path))


def test_a_training_only_entry_names_where_to_evaluate(monkeypatch):
    with pytest.raises(ConfigError, match=r"training split only.*\(lsp\)"):
        eval_split("lspet")
    monkeypatch.setitem(DATASETS, "flic_extra", DatasetSpec("flic_extra", FLIC, splits=("train",), eval_split=None))
    with pytest.raises(ConfigError, match=r"\(flic\)"):
        eval_split("flic_extra")
    with pytest.raises(ConfigError, match="unknown dataset 'coco'; choose one of synth, mpii"):
        eval_split("coco")


def test_prepare_writes_the_catalogue_splits_and_checks_its_sources(tmp_path, monkeypatch):
    import scipy.io

    points = np.ones((3, 14, 1200))  # LSP's layout: x, y, flag (0 = visible) for 1200 images
    points[0] += np.arange(14)[:, None]
    points[1] += 2 * np.arange(14)[:, None]
    points[2] = 0
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": points})
    monkeypatch.setitem(DATASETS, "lsp", dataclasses.replace(DATASETS["lsp"], splits=("test",)))
    assert list(prepare("lsp", tmp_path)) == ["test"]
    assert not (tmp_path / "annotations" / "train.json").exists()
    with pytest.raises(ConfigError, match="source for lsp must be one of mat; got 'mmpose'"):
        prepare("lsp", tmp_path, source="mmpose")
    with pytest.raises(ConfigError, match="'synth' has no annotation files to prepare"):
        prepare("synth", tmp_path)
    with pytest.raises(ConfigError, match="unknown dataset 'coco'"):
        prepare("coco", tmp_path)


def test_data_commands_offer_what_the_catalogue_holds(monkeypatch):
    monkeypatch.setitem(DATASETS, "tiny", DatasetSpec("tiny", LSP, splits=("train",), eval_split=None,
                                                      sources=("csv",), resources=DATASETS["lsp"].resources))
    parser = argparse.ArgumentParser(prog="hglearn")
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    assert parser.parse_args(["data", "download", "tiny", "--root", "x"]).name == "tiny"
    assert parser.parse_args(["data", "prepare", "tiny", "--root", "x", "--source", "csv"]).source == "csv"
    for words in (["download", "synth"], ["prepare", "synth"], ["prepare", "lsp", "--source", "xml"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["data", *words, "--root", "x"])


# ---------------------------------------------------------------------------------------------
# Dataset names are listed in one file only

def name_collections(source: str) -> list[tuple[int, list[str]]]:
    """(line, names) of every tuple, list, set or dict literal whose elements (a dict's keys) hold
    two or more dataset names as string constants."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elements = node.elts
        elif isinstance(node, ast.Dict):
            elements = [key for key in node.keys if key is not None]
        else:
            continue
        names = [e.value for e in elements if isinstance(e, ast.Constant) and e.value in DATASET_NAMES]
        if len(names) >= 2:
            found.append((node.lineno, names))
    return sorted(found)


def test_the_rule_sees_tables_of_names_but_not_prose():
    source = '''
DATASET_NAMES = ("synth", "mpii", "lsp", "lspet", "flic")
SPLITS = {"mpii": ("train", "val"), "lsp": ("train", "test")}
if name in ["lsp", "lspet"]:
    pass
help = "synth, mpii, lsp, lspet or flic"
one = {"mpii": 16}
'''
    assert name_collections(source) == [(2, ["synth", "mpii", "lsp", "lspet", "flic"]), (3, ["mpii", "lsp"]),
                                        (4, ["lsp", "lspet"])]


def test_dataset_names_are_listed_in_the_catalogue_only():
    offenders = []
    for path in sorted((REPO / "hglearn").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative in ALLOWED:
            continue
        for line, names in name_collections(path.read_text(encoding="utf-8")):
            offenders.append(f"{relative}:{line}: {', '.join(names)}")
    assert not offenders, ("dataset names listed outside hglearn/data/catalog.py (take them from "
                           "DATASETS instead):\n" + "\n".join(offenders))
