"""The AES-256-GCM payload codec, its key setting and the data converter it goes into."""

from __future__ import annotations

import base64

import pytest
from temporalio.api.common.v1 import ActivityType, Payload
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from workers.cli.status import _pending
from workers.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    EncryptionKey,
    PayloadDecryptionError,
    new_key_entry,
    parse_keys,
)
from workers.connection import data_converter
from workers.settings import SettingsError, load_settings
from workflows.contracts import RunRequest

SECRET = "the launch code is 0000"
KEY_A = EncryptionKey("a", bytes(range(32)))
KEY_B = EncryptionKey("b", bytes(range(32, 64)))  # fixed: pytest-xdist compares test ids


def entry(key: EncryptionKey) -> str:
    return f"{key.id}:{base64.b64encode(key.secret).decode()}"


def plain(value: object = SECRET) -> Payload:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([value])
    return payload


async def test_a_payload_round_trips() -> None:
    codec = EncryptionCodec([KEY_A])
    original = plain()
    [encoded] = await codec.encode([original])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID] == b"a"
    assert await codec.decode([encoded]) == [original]


async def test_the_ciphertext_is_new_each_time_and_holds_no_plaintext() -> None:
    codec = EncryptionCodec([KEY_A])
    first, second = await codec.encode([plain(), plain()])
    assert first.data != second.data
    assert first.data[:12] != second.data[:12]  # a fresh nonce each time
    for encoded in (first, second):
        raw = encoded.SerializeToString()
        assert SECRET.encode() not in raw
        assert b"json/plain" not in raw  # the original metadata is encrypted too


async def test_after_a_rotation_old_payloads_decode_and_new_ones_use_the_new_key() -> None:
    [old] = await EncryptionCodec([KEY_A]).encode([plain("before")])
    rotated = EncryptionCodec([KEY_A, KEY_B])
    assert await rotated.decode([old]) == [plain("before")]
    [new] = await rotated.encode([plain("after")])
    assert new.metadata[KEY_ID] == b"b"
    assert await EncryptionCodec([KEY_B]).decode([new]) == [plain("after")]


async def test_an_unknown_key_id_is_named() -> None:
    [encoded] = await EncryptionCodec([KEY_A]).encode([plain()])
    with pytest.raises(PayloadDecryptionError, match=r"key id 'a'.*PAYLOAD_ENCRYPTION_KEYS"):
        await EncryptionCodec([KEY_B]).decode([encoded])


async def test_tampered_ciphertext_does_not_decode() -> None:
    codec = EncryptionCodec([KEY_A])
    [encoded] = await codec.encode([plain()])
    flipped = bytearray(encoded.data)
    flipped[-1] ^= 1
    encoded.data = bytes(flipped)
    with pytest.raises(PayloadDecryptionError, match="altered"):
        await codec.decode([encoded])


async def test_a_payload_relabelled_with_another_key_id_does_not_decode() -> None:
    """Both keys are held, and key a's secret is used under b's label: the key id is the
    cipher's associated data, so the relabelled payload fails authentication."""
    same_secret_as_a = EncryptionKey("b", KEY_A.secret)
    codec = EncryptionCodec([KEY_A, same_secret_as_a])
    [encoded] = await EncryptionCodec([KEY_A]).encode([plain()])
    encoded.metadata[KEY_ID] = b"b"
    with pytest.raises(PayloadDecryptionError, match="key id 'b' does not decrypt"):
        await codec.decode([encoded])


async def test_unencrypted_payloads_pass_through_decoding() -> None:
    written_before_the_codec = [plain(), plain({"a": 1}), Payload()]
    decoded = await EncryptionCodec([KEY_A]).decode(written_before_the_codec)
    assert decoded == written_before_the_codec


def test_a_new_key_entry_parses_as_a_32_byte_key() -> None:
    [key] = parse_keys(new_key_entry("k1"))
    assert key.id == "k1"
    assert len(key.secret) == 32
    assert new_key_entry("k1") != new_key_entry("k1")
    with pytest.raises(ValueError, match="letters, digits"):
        new_key_entry("no spaces")


def test_the_key_never_shows_in_its_repr() -> None:
    assert base64.b64encode(KEY_A.secret).decode() not in repr(parse_keys(entry(KEY_A)))
    assert repr(KEY_A.secret) not in repr(KEY_A)


@pytest.mark.usefixtures("isolated_env")
class TestSetting:
    def test_keys_load_oldest_first(self) -> None:
        settings = load_settings(payload_encryption_keys=f"{entry(KEY_A)}, {entry(KEY_B)}")
        assert [key.id for key in settings.encryption_keys] == ["a", "b"]

    def test_unset_or_empty_means_no_encryption(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert load_settings().encryption_keys == ()
        monkeypatch.setenv("PAYLOAD_ENCRYPTION_KEYS", "")
        assert load_settings().encryption_keys == ()

    @pytest.mark.parametrize(
        ("value", "said"),
        [
            ("a:not*base64", "key 'a': not valid base64"),
            (f"a:{base64.b64encode(bytes(16)).decode()}", "key 'a': 16 bytes, expected 32"),
            (f"{entry(KEY_A)},a:{base64.b64encode(bytes(32)).decode()}", "'a': the id is used"),
            (f":{base64.b64encode(bytes(32)).decode()}", "entry #1: the key id is empty"),
            (f"{entry(KEY_A)},{base64.b64encode(bytes(32)).decode()}", "entry #2: expected"),
            (",", "no key"),
        ],
    )
    def test_a_bad_value_is_named_without_quoting_the_key(
        self, monkeypatch: pytest.MonkeyPatch, value: str, said: str
    ) -> None:
        monkeypatch.setenv("PAYLOAD_ENCRYPTION_KEYS", value)
        with pytest.raises(SettingsError) as raised:
            load_settings()
        message = str(raised.value)
        assert message.startswith("invalid setting PAYLOAD_ENCRYPTION_KEYS: ")
        assert said in message
        assert base64.b64encode(KEY_A.secret).decode() not in message

    def test_codec_server_tokens_are_sha256_digests(self) -> None:
        digest = "AB" * 32
        settings = load_settings(codec_server_tokens=f"{digest}, {'cd' * 32}")
        assert settings.codec_server_digests == ["ab" * 32, "cd" * 32]
        with pytest.raises(SettingsError, match=r"CODEC_SERVER_TOKENS: .*entry #2: expected"):
            load_settings(codec_server_tokens=f"{digest},secret-token")
        with pytest.raises(SettingsError, match=r"CODEC_SERVER_TOKENS: .*configured twice"):
            load_settings(codec_server_tokens=f"{digest},{digest.lower()}")

    def test_cors_origins_default_to_the_temporal_ui(self) -> None:
        ui = load_settings(temporal_ui_url="https://temporal.example.com:8443/ui/")
        assert ui.codec_cors_origins == ["https://temporal.example.com:8443"]
        chosen = load_settings(codec_server_cors_origins="http://a:1, http://b/ ,")
        assert chosen.codec_cors_origins == ["http://a:1", "http://b"]


@pytest.mark.usefixtures("isolated_env")
async def test_the_data_converter_encrypts_payloads_and_failure_messages() -> None:
    converter = data_converter(load_settings(payload_encryption_keys=entry(KEY_A)))
    request = RunRequest.model_validate(
        {"assistant_id": "asst_1", "messages": [{"content": SECRET}]}
    )
    [encoded] = await converter.encode([request])
    assert encoded.metadata["encoding"] == ENCODING
    assert SECRET.encode() not in encoded.SerializeToString()
    assert await converter.decode([encoded], [RunRequest]) == [request]

    failure = Failure()
    try:
        raise ApplicationError(f"tool said {SECRET}")
    except ApplicationError as err:
        await converter.encode_failure(err, failure)
    assert failure.message == "Encoded failure"
    assert failure.stack_trace == ""
    assert SECRET.encode() not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == f"tool said {SECRET}"


@pytest.mark.usefixtures("isolated_env")
async def test_without_keys_the_data_converter_is_the_plain_pydantic_one() -> None:
    converter = data_converter(load_settings())
    assert converter is pydantic_data_converter
    failure = Failure()
    await converter.encode_failure(ApplicationError(SECRET), failure)
    assert failure.message == SECRET  # what the codec changes: shown here without it


@pytest.mark.usefixtures("isolated_env")
async def test_status_shows_a_pending_steps_encrypted_failure_decrypted() -> None:
    converter = data_converter(load_settings(payload_encryption_keys=entry(KEY_A)))
    pending = PendingActivityInfo(activity_type=ActivityType(name="run.start"), attempt=2)
    await converter.encode_failure(ApplicationError(f"429: {SECRET}"), pending.last_failure)
    assert pending.last_failure.message == "Encoded failure"
    shown = await _pending(converter, pending)
    assert shown == {"step": "run.start", "attempt": 2, "last_failure": f"429: {SECRET}"}
    assert pending.last_failure.message == "Encoded failure"  # read, not changed
