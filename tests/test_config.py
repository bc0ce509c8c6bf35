"""Settings: what `make run` chose is what `flask …` run by hand uses."""
from relbuild.config import from_environment


def test_commands_run_by_hand_link_to_the_origin_make_run_serves(tmp_path, monkeypatch):
    monkeypatch.delenv("BASE_URL", raising=False)
    assert from_environment(tmp_path)["BASE_URL"] == "http://127.0.0.1:5000"
    (tmp_path / "base_url").write_text("https://192.168.1.20:5101\n")  # scripts/serve.sh wrote it
    settings = from_environment(tmp_path)
    assert settings["BASE_URL"] == "https://192.168.1.20:5101" and settings["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("BASE_URL", "https://fair.example/")  # an explicit setting still wins
    assert from_environment(tmp_path)["BASE_URL"] == "https://fair.example"
