"""The host-side relocation (envtool.py) and the header, on plain bytes: no environment."""

from __future__ import annotations

import importlib.util
import re

import pytest

from dockyard.pack import HOSTSIDE
from dockyard.pack.header import render_header


@pytest.fixture(scope="module")
def envtool():
    spec = importlib.util.spec_from_file_location("envtool", HOSTSIDE / "envtool.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


P = b"/pack_" + b"x" * 26  # a 32-byte placeholder


def test_binary_shrinks_with_nul_padding(envtool):
    data = b"\x7fELF\0" + P + b"/lib:" + P + b"/lib64\0" + b"\0" * 8 + b"tail"
    out = envtool.binary_replace(data, P, b"/opt/a", len(P))
    assert len(out) == len(data)
    assert out.startswith(b"\x7fELF\0/opt/a/lib:/opt/a/lib64\0")
    assert out.endswith(b"\0" * 8 + b"tail")


def test_binary_grows_back_within_the_placeholder(envtool):
    data = b"head\0" + P + b"/share\0more\0"
    short = envtool.binary_replace(data, P, b"/a", len(P))
    longer = envtool.binary_replace(short, b"/a", b"/opt/envs/b", len(P))
    assert len(longer) == len(data)
    assert longer.startswith(b"head\0/opt/envs/b/share\0") and longer.endswith(b"\0more\0")
    back = envtool.binary_replace(longer, b"/opt/envs/b", P, len(P))
    assert back == data


def test_binary_refuses_a_prefix_longer_than_the_placeholder(envtool):
    with pytest.raises(envtool.Refused, match="room for 32"):
        envtool.binary_replace(P + b"\0", P, b"/" + b"y" * 40, len(P))


def test_short_shebang_kept(envtool):
    data = b"#!/opt/a/bin/python3.12\nimport sys\n"
    assert envtool.fix_shebang(data, b"/opt/a") == data


def test_long_shebang_becomes_a_trampoline(envtool, tmp_path):
    prefix = b"/" + b"d" * 130
    data = b"#!" + prefix + b"/bin/python3.12 -E\nprint('hi')\n"
    out = envtool.fix_shebang(data, prefix)
    assert out.startswith(b"#!/bin/sh\n'''exec' \"" + prefix + b"/bin/python3.12\" -E \"$0\"")
    assert out.endswith(b"' '''\nprint('hi')\n")


def test_long_non_python_shebang_uses_env(envtool):
    prefix = b"/" + b"d" * 130
    out = envtool.fix_shebang(b"#!" + prefix + b"/bin/bash\necho\n", prefix)
    assert out == b"#!/usr/bin/env bash\necho\n"


def test_header_is_fixed_width_and_knows_its_length():
    fields = {"PACK_ID": "0" * 16, "PROJECT": "app", "PLATFORM": "linux-64", "ARCH": "x86_64",
              "GLIBC": "2.28", "MAX_PREFIX": 0, "PAYLOAD_SIZE": 1, "PAYLOAD_SHA256": "a" * 64}
    small = render_header(fields)
    big = render_header({**fields, "MAX_PREFIX": 96, "PAYLOAD_SIZE": 12345678901})
    assert len(small) == len(big)
    offset = int(re.search(rb"PAYLOAD_OFFSET=(\d+)", big).group(1))
    assert offset == len(big) and big.endswith(b"exit 0\n")
    with pytest.raises(ValueError):
        render_header({**fields, "PROJECT": "a'; rm -rf /"})
