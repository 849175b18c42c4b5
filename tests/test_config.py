"""Config schema: shipped configs validate, bad configs name the key, every key is documented."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "ci.yaml", "bench.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    config = load(name)
    validate(config, str(SCHEMA), set_default=True)
    assert config["windows"]["length"] % config["windows"]["bin_size"] == 0


def test_defaults_fill_a_one_genome_config_without_adding_demo_inputs() -> None:
    config: dict = {"genomes": {"hg38": {"fasta": "/data/hg38.fa", "tracks": "my_tracks.tsv"}}}
    validate(config, str(SCHEMA), set_default=True)
    assert config["windows"] == {
        "length": 196608, "stride": 65536, "bin_size": 128, "target_length": 896, "max_n_fraction": 0.35,
    }
    assert list(config["genomes"]) == ["hg38"]
    assert config["genomes"]["hg38"]["splits"]["exclude"] == []
    assert config["simulate"]["enabled"] is False
    assert config["variants"]["vcfs"] == {}
    assert config["contributions"]["truth"] == {}
    assert "resources/demo" not in json.dumps({k: v for k, v in config.items() if k != "simulate"})


def test_a_config_must_name_its_genomes() -> None:
    with pytest.raises(Exception, match="genomes"):
        validate({}, str(SCHEMA), set_default=True)


def test_default_chromosome_pattern_is_the_codes() -> None:
    from enformer_lite.data.windows import PRIMARY_CHROMS

    schema = yaml.safe_load(SCHEMA.read_text())
    genome = schema["properties"]["genomes"]["additionalProperties"]["properties"]
    assert genome["chroms"]["default"] == PRIMARY_CHROMS


@pytest.mark.parametrize(
    ("path", "value", "names"),
    [
        (("windows", "length"), "big", "['windows']['length']"),
        (("windows", "max_n_fraction"), 2, "['windows']['max_n_fraction']"),
        (("simulate", "size"), "huge", "['simulate']['size']"),
        (("genomes", "human", "splits", "valid"), "chr2", "['genomes']['human']['splits']['valid']"),
        (("windowz",), {}, "'windowz' was unexpected"),
    ],
)
def test_bad_config_names_the_key(path: tuple[str, ...], value: object, names: str) -> None:
    config = copy.deepcopy(load("ci.yaml"))
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(Exception, match="Error validating config") as info:
        validate(config, str(SCHEMA), set_default=True)
    assert names in str(info.value)


def test_genome_without_fasta_is_rejected() -> None:
    config = {"genomes": {"human": {"tracks": "t.tsv"}}}
    with pytest.raises(Exception, match="'fasta' is a required property"):
        validate(config, str(SCHEMA), set_default=True)


def _walk(schema: dict, where: str):
    for key, sub in schema.get("properties", {}).items():
        yield f"{where}.{key}", key in schema.get("required", []), sub
        yield from _walk(sub, f"{where}.{key}")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _walk(extra, f"{where}.*")


def test_every_key_has_description_and_default() -> None:
    schema = yaml.safe_load(SCHEMA.read_text())
    for where, required, sub in _walk(schema, "config"):
        assert sub.get("description"), f"{where} has no description"
        assert required or "default" in sub, f"{where} has no default"
