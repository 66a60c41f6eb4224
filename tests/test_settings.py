"""Layered settings: defaults < newsetl.toml < NEWSETL_* environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings


def test_layers_in_order(tmp_path: Path) -> None:
    config = tmp_path / "conf.toml"
    config.write_text('[newsetl]\nwarehouse = "/from/toml"\nshard_files = 10\n'
                      'ner_models = { de = "de_news" }\n', encoding="utf-8")
    env = {"NEWSETL_CONFIG": str(config), "NEWSETL_SHARD_FILES": "20"}
    s = Settings.load(environ=env)
    assert s.warehouse == Path("/from/toml")
    assert s.shard_files == 20
    assert s.ner_models == {"de": "de_news"}
    s = Settings.load({"shard_files": 30, "warehouse": None}, environ=env)
    assert (s.shard_files, s.warehouse) == (30, Path("/from/toml"))


def test_defaults_without_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings.load(environ={})
    assert s.warehouse == Path("data/warehouse")
    assert s.ner_models == {"de": "de_news", "en": "en_news"}  # the project's own, in models/
    assert 10_000 <= s.row_group_rows <= 20_000


def test_env_mapping_and_bool() -> None:
    s = Settings.load(environ={"NEWSETL_NER_MODELS": "de=/m/de, en=none",
                               "NEWSETL_KEEP_PREVIOUS": "false"})
    assert s.ner_models == {"de": "/m/de", "en": "none"}
    assert s.keep_previous is False


@pytest.mark.parametrize(("env", "message"), [
    ({"NEWSETL_SHARD_FILES": "many"}, "must be an integer"),
    ({"NEWSETL_NER_MODELS": "de"}, "key=value"),
    ({"NEWSETL_CONFIG": "/no/such/file.toml"}, "missing file"),
])
def test_bad_values_say_which_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        Settings.load(environ=env)


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown setting .colour."):
        Settings.from_mapping({"colour": "blue"})


def test_round_trip_through_dict() -> None:
    s = Settings.from_mapping({"warehouse": "/w", "ner_models": {"de": "x"}, "shard_files": 5})
    assert Settings.from_mapping(s.to_dict()) == s
