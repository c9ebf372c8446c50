import pytest

from tounum import config


def test_round_trip(tmp_path):
    c = config.Config()
    c.caption.beam = 5
    path = tmp_path / "c.toml"
    path.write_text(config.dumps(c))
    assert config.load(path) == c


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[caption]\nbeem = 5\n")
    with pytest.raises(config.ConfigError, match=r"c\.toml\.caption: unknown key 'beem'"):
        config.load(path)


def test_wrong_type(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[caption]\nbeam = "five"\n')
    with pytest.raises(config.ConfigError, match="expected int"):
        config.load(path)


def test_bad_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[caption\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(path)
