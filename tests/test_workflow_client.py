"""Client plumbing without a workflow: connection settings, unreachable server, the codec,
the progress lines."""

from __future__ import annotations

import json

import pytest
from temporalio.api.common.v1 import Payload

from djcurator_core.pipeline.codec import ENCODING, GzipPayloadCodec
from djcurator_core.pipeline.contracts import SOLVER_COMPILING, Progress
from djcurator_core.pipeline.sets.client import (
    ClientError,
    ConnectionSettings,
    ServerUnreachable,
    _news,
    connect,
    starting_worker,
)

pytestmark = pytest.mark.temporal

TWO_MIB = 2 * 1024 * 1024


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No TEMPORAL_* variables and no user config file."""
    for name in list(__import__("os").environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return tmp_path


def test_default_is_localhost(clean_env):
    assert ConnectionSettings().connect_config() == {
        "target_host": "localhost:7233",
        "namespace": "default",
    }


def test_environment_then_explicit_settings(clean_env, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "djs")
    config = ConnectionSettings().connect_config()
    assert (config["target_host"], config["namespace"]) == ("temporal.example:7233", "djs")
    config = ConnectionSettings(address="127.0.0.1:9999", namespace="other").connect_config()
    assert (config["target_host"], config["namespace"]) == ("127.0.0.1:9999", "other")


def test_api_key_implies_tls_unless_told_otherwise(clean_env):
    config = ConnectionSettings(address="x.tmprl.cloud:7233", api_key="secret").connect_config()
    assert config["api_key"] == "secret" and config["tls"] is True
    config = ConnectionSettings(api_key="secret", tls=False).connect_config()
    assert config["tls"] is False


def test_profiles_from_a_config_file(clean_env, monkeypatch):
    path = clean_env / "temporal.toml"
    path.write_text(
        '[profile.default]\naddress = "default.example:7233"\n'
        '[profile.cloud]\naddress = "ns.acct.tmprl.cloud:7233"\nnamespace = "ns.acct"\n'
        'api_key = "k"\n'
    )
    assert ConnectionSettings(config_file=str(path)).connect_config()["target_host"] == (
        "default.example:7233"
    )
    cloud = ConnectionSettings(config_file=str(path), profile="cloud").connect_config()
    assert cloud["target_host"] == "ns.acct.tmprl.cloud:7233"
    assert (cloud["namespace"], cloud["api_key"], cloud["tls"]) == ("ns.acct", "k", True)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(path))
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    assert ConnectionSettings().connect_config()["namespace"] == "ns.acct"


def test_embedded_use_ignores_the_environment(clean_env, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    monkeypatch.setenv("TEMPORAL_API_KEY", "secret")
    settings = ConnectionSettings(address="127.0.0.1:7999", use_environment=False)
    assert settings.connect_config() == {"target_host": "127.0.0.1:7999", "namespace": "default"}


def test_broken_config_file_is_one_line(clean_env):
    path = clean_env / "temporal.toml"
    path.write_text("[profile.default\naddress = ")
    with pytest.raises(ClientError, match="Temporal configuration") as error:
        ConnectionSettings(config_file=str(path)).connect_config()
    assert "\n" not in str(error.value)


async def test_unreachable_server_is_one_line(clean_env):
    with pytest.raises(ServerUnreachable) as error:
        await connect(ConnectionSettings(address="127.0.0.1:1"))
    message = str(error.value)
    assert message.startswith(
        "cannot reach the Temporal server at 127.0.0.1:1 (connection refused)"
    )
    assert "\n" not in message and "TEMPORAL_ADDRESS" in message


async def test_codec_leaves_small_payloads_readable_and_compresses_large_ones():
    codec = GzipPayloadCodec(threshold=100)
    small = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    large = Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps([{"id": f"t{i}", "genre": "Deep House"} for i in range(2000)]).encode(),
    )
    encoded = await codec.encode([small, large])
    assert encoded[0] == small
    assert encoded[1].metadata["encoding"] == ENCODING
    assert len(encoded[1].data) < len(large.data) / 3
    assert await codec.decode(encoded) == [small, large]


def test_a_wait_for_a_starting_worker_is_said_once_in_the_step_line():
    step = Progress(
        status="sequencing_tracks", step="sequence_tracks_activity", step_number=2,
        tracks_loaded=20,
    )  # fmt: skip
    waiting = step.model_copy(
        update={"detail": SOLVER_COMPILING, "waiting_for": starting_worker("4242@host")}
    )
    assert waiting.line() == (
        "step 2/3: sequencing_tracks (20 tracks): waiting for worker 4242@host, which is "
        "starting: it compiles its solver on its first run (about 10-30 s)"
    )
    assert step.line() == "step 2/3: sequencing_tracks (20 tracks)"
    said: set[str | None] = {None}
    assert _news(step, None, said)
    assert not _news(step.model_copy(update={"detail": "searching: 200 kicks"}), step, said)
    assert _news(waiting, step, said)
    said.add(waiting.waiting_for)
    assert not _news(waiting, step, said)  # a heartbeat seen again
    assert not _news(step, waiting, said)  # the wait is over: nothing new to say
    done = step.model_copy(update={"status": "completed"})
    assert _news(done, waiting, said)
