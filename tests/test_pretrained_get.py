"""`hglearn pretrained list` and `get` (hglearn/pretrained.py), against a local HTTP server.

The server is test_real_datasets.py's `RangeServer` (honours Range, counts requests, can cut its
first answer short) serving a 2-stack checkpoint in the port's layout, built from test_pretrained.py's
`port_shapes`; the registry's address is pointed at it and HGLEARN_CACHE at the test's folder.
"""
import io
import json
import socket

import pytest
import torch

from hglearn.checkpoints import load_checkpoint, load_model
from hglearn.cli import main
from hglearn.data.download import file_sha256 as sha256
from hglearn.pretrained import PRETRAINED, cache_dir, cache_paths
from test_pretrained import port_shapes
from test_real_datasets import RangeServer

NAME = "newell-hg2-princeton"


@pytest.fixture(scope="module")
def port_file() -> bytes:
    """A 2-stack port checkpoint (random weights), as the bytes its file holds: about 27 MB."""
    generator = torch.Generator().manual_seed(1)
    state = {f"model.module.{key}": torch.tensor(7) if key.endswith("num_batches_tracked")
             else torch.rand(shape, generator=generator) + 0.5 for key, shape in port_shapes(2).items()}
    buffer = io.BytesIO()
    torch.save({"state_dict": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 5}, buffer)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test's cache is its own folder: never the user's ~/.cache."""
    monkeypatch.setenv("HGLEARN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "pretrained"


@pytest.fixture
def served(port_file, monkeypatch):
    """A server of the port file, with the registry's address pointing at it."""
    with RangeServer(port_file, content_type="application/octet-stream") as server:
        monkeypatch.setitem(PRETRAINED[NAME], "address", server.url)
        yield server


def get(capsys) -> tuple[int, str, str]:
    """`hglearn pretrained get NAME`: its exit status, its output, and its error line ("" if none).
    An error is one line, after the progress bar's."""
    status = main(["pretrained", "get", NAME])
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("hglearn pretrained:")]
    assert errors == ([err.splitlines()[-1]] if status else []), err
    return status, out, errors[0] if errors else ""


def test_get_downloads_converts_and_prints_the_path_then_only_verifies(served, port_file, cache, capsys):
    status = main(["pretrained", "get", NAME])
    out, err = capsys.readouterr()
    paths = cache_paths(NAME)
    assert status == 0, err
    assert out.splitlines()[-1] == str(paths.converted) == str(cache / f"{NAME}.pt")
    assert "checkpoint.pt: 100%" in err  # the progress bar
    model, train_cfg = load_model(paths.converted)
    assert train_cfg.model == "newell-hg2" and sum(p.numel() for p in model.parameters()) > 6_000_000
    card = load_checkpoint(paths.converted)["model_card"]
    assert card["source_sha256"] == sha256(paths.source) and card["reported_accuracy"] == 0.883
    assert card["published_address"] == "http://www-personal.umich.edu/~cnris/original_2hg/checkpoint.pt"
    assert paths.source.read_bytes() == port_file
    assert f"sha256 recorded in {paths.record}" in out
    assert json.loads(paths.record.read_text())["sha256"] == card["source_sha256"]

    status, out, _ = get(capsys)
    assert status == 0 and out.splitlines()[-1] == str(paths.converted)
    assert "sha256 as recorded" in out
    assert served.ranges == [None]  # one request: the second get downloaded nothing


def test_a_tampered_cached_file_is_refused_naming_it_and_both_hashes(served, capsys):
    assert get(capsys)[0] == 0
    paths = cache_paths(NAME)
    recorded = sha256(paths.converted)
    with open(paths.converted, "ab") as f:
        f.write(b"changed")
    status, _, err = get(capsys)
    assert status == 2
    assert str(paths.converted) in err and recorded in err and sha256(paths.converted) in err

    # Without the converted file, the download is converted again, once it matches its record.
    paths.converted.unlink()
    source_sha256 = sha256(paths.source)
    with open(paths.source, "r+b") as f:
        f.write(b"X")
    status, _, err = get(capsys)
    assert status == 2
    assert str(paths.source) in err and source_sha256 in err and sha256(paths.source) in err
    assert not paths.converted.exists() and served.ranges == [None]


def test_a_deleted_download_is_fetched_again_and_checked_against_the_record(served, port_file, capsys):
    assert get(capsys)[0] == 0
    paths = cache_paths(NAME)
    paths.source.unlink()
    paths.converted.unlink()
    served.payload = port_file[:-1] + bytes([port_file[-1] ^ 1])  # the server's file changed since
    status, _, err = get(capsys)
    assert status == 2 and "SHA-256 mismatch" in err
    assert not paths.source.exists() and not paths.converted.exists()
    served.payload = port_file
    assert get(capsys)[0] == 0 and paths.converted.exists()


def test_a_download_cut_short_resumes_with_a_range_request(port_file, monkeypatch, capsys):
    cut = len(port_file) // 2
    with RangeServer(port_file, cut_after=cut, content_type="application/octet-stream") as server:
        monkeypatch.setitem(PRETRAINED[NAME], "address", server.url)
        status, _, err = get(capsys)
        assert status == 2 and "resume" in err
        paths = cache_paths(NAME)
        received = paths.source.with_name("checkpoint.pt.part").stat().st_size
        assert 0 < received < len(port_file) and not paths.source.exists() and not paths.converted.exists()
        status, out, err = get(capsys)
    assert status == 0, err
    assert server.ranges == [None, f"bytes={received}-"]
    assert paths.source.read_bytes() == port_file and out.splitlines()[-1] == str(paths.converted)


def test_offline_says_what_to_fetch_and_where_to_put_it_then_converts_that(port_file, monkeypatch, capsys):
    with socket.socket() as s:  # a port nothing listens on once closed: connection refused
        s.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{s.getsockname()[1]}/original_2hg/checkpoint.pt"
    monkeypatch.setitem(PRETRAINED[NAME], "address", address)
    status, _, err = get(capsys)
    paths = cache_paths(NAME)
    assert status == 2
    assert "cannot connect" in err and f"Fetch {address} " in err and f"save it as {paths.source};" in err
    assert not paths.converted.exists()

    paths.source.parent.mkdir(parents=True, exist_ok=True)
    paths.source.write_bytes(port_file)  # fetched by hand
    status, out, err = get(capsys)
    assert status == 0, err
    assert out.splitlines()[-1] == str(paths.converted) and load_checkpoint(paths.converted)["model_card"]


def test_hglearn_cache_is_honoured_and_home_is_the_default(tmp_path, cache, monkeypatch):
    assert cache_dir() == cache and cache_paths(NAME).converted == cache / f"{NAME}.pt"
    monkeypatch.delenv("HGLEARN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "hglearn" / "pretrained"


def test_list_shows_every_name_and_what_is_in_the_cache(served, capsys):
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    for name, entry in PRETRAINED.items():
        assert name in out and f"{entry['num_stacks']} stacks" in out and str(entry["accuracy"]) in out
        assert entry["address"] in out
    assert out.count("not in the cache") == 2
    assert get(capsys)[0] == 0
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    assert f"in the cache: {cache_paths(NAME).converted}" in out and out.count("not in the cache") == 1


def test_an_unknown_name_lists_the_names(capsys):
    assert main(["pretrained", "get", "newell-hg4-princeton"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "newell-hg2-princeton, newell-hg8-princeton" in err
