"""No recording, ever: the call's scripts have no way to capture media, the
signalling socket carries no media, and nothing in the data model could hold
any. (The call itself goes browser to browser; TURN relays only encrypted
packets it cannot read.)"""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import models

from tandem.video import signalling

SCRIPTS = Path(settings.BASE_DIR) / "tandem" / "static" / "tandem" / "js"
# Every browser API that turns a live stream into something kept or sent.
CAPTURE = re.compile(
    r"MediaRecorder|captureStream|ImageCapture|toDataURL|toBlob|getImageData|AudioWorklet|createScriptProcessor"
)


def test_the_call_scripts_cannot_capture_media() -> None:
    scripts = {path.name: path.read_text() for path in SCRIPTS.glob("*.js")}
    assert {"room.js", "precheck.js"} <= set(scripts)
    found = {name: CAPTURE.findall(text) for name, text in scripts.items() if CAPTURE.search(text)}
    assert found == {}
    # The probe can fail: it sees the recorder where there is one.
    assert CAPTURE.search("const r = new MediaRecorder(stream);")


def test_signalling_carries_no_media() -> None:
    assert {
        "offer",
        "answer",
        "candidate",
        "media",
        "ping",
        "admit",
        "remove",
        "quality",
        "mute_device",
        "room_mode",
    } == signalling.MESSAGE_TYPES
    # "media" is the state of a participant's devices, never their content.
    raw = '{"type": "media", "audio": true, "video": false, "screen": false, "data": "AAAA"}'
    try:
        signalling.parse(raw)
    except signalling.SignalError as exc:
        assert exc.code == signalling.CLOSE_MALFORMED
    else:
        raise AssertionError("a media message with a payload was accepted")


def test_no_model_can_hold_media() -> None:
    for model in apps.get_app_config("video").get_models():
        for field in model._meta.get_fields():
            assert not isinstance(field, models.FileField | models.BinaryField), (model.__name__, field.name)
