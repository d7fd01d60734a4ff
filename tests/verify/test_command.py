"""Reading the token, port and ip from the platform's command (plain data)."""

import pytest

from dockyard.verify.command import (
    effective_command,
    hide,
    jupyter_processes,
    launch,
    option,
    parse_server_list,
    split_words,
    token_from_log,
)

FOUNDING_CMD = [
    "/bin/sh", "-c",
    "jupyter lab --no-browser --ip 0.0.0.0 --LabApp.token=password "
    "--ContentsManager.allow_hidden=True",
]


def test_founding_case_cmd():
    found = launch({"Cmd": FOUNDING_CMD})
    assert found.argv == ()
    assert found.token == "password"
    assert found.port == 8888
    assert found.ip == "0.0.0.0"


@pytest.mark.parametrize("text, token", [
    ("jupyter lab --ServerApp.token=abc", "abc"),
    ("jupyter lab --IdentityProvider.token abc --ip=0.0.0.0", "abc"),
    ("jupyter notebook --NotebookApp.token='with space'", "with space"),
    ("jupyter lab --ServerApp.token=''", ""),
    ("jupyter lab --LabApp.token=a --ServerApp.token=b", "b"),  # the last one wins
    ("jupyter lab", None),
])
def test_token_spellings(text, token):
    assert launch({}, text).token == token


def test_explicit_token_wins_and_env_token_is_a_fallback():
    assert launch({"Cmd": FOUNDING_CMD}, token="given").token == "given"
    assert launch({"Cmd": ["jupyter", "lab"], "Env": ["JUPYTER_TOKEN=fromenv"]}).token == "fromenv"


def test_port_and_ip():
    found = launch({}, "jupyter lab --port 9999 --ServerApp.ip=127.0.0.1")
    assert found.port == 9999 and found.ip == "127.0.0.1"


def test_cmd_goes_to_the_entrypoint_as_sh_c():
    config = {"Entrypoint": ["tini", "--"], "Cmd": ["ignored"]}
    argv, full = effective_command(config, "jupyter lab --ip 0.0.0.0")
    assert argv == ("/bin/sh", "-c", "jupyter lab --ip 0.0.0.0")
    assert full == ("tini", "--", "/bin/sh", "-c", "jupyter lab --ip 0.0.0.0")
    assert effective_command(config, None) == ((), ("tini", "--", "ignored"))


def test_split_words_keeps_unbalanced_quotes():
    assert split_words(["sh", "-c", "echo 'x"]) == ("sh", "-c", "echo 'x")
    assert option(["--port"], ["--port"]) is None


def test_generated_token_from_log_and_hide():
    log = "http://127.0.0.1:8888/lab?token=0123456789abcdef0123\n"
    assert token_from_log(log) == "0123456789abcdef0123"
    assert token_from_log("http://127.0.0.1:8888/lab?token=...") is None
    assert hide("--LabApp.token=password", "password") == "--LabApp.token=***"
    assert hide("text", None) == "text"


# `jupyter server list --json` as Jupyter Server 2.17 prints it (one object per line).
SERVER_LIST = (
    '{"base_url": "/", "hostname": "0.0.0.0", "password": false, "pid": 7, "port": 8888, '
    '"root_dir": "/home/jovyan", "secure": false, "sock": "", "token": "Zk3xq", '
    '"url": "http://a1b2:8888/", "version": "2.17.0"}\n'
    '{"base_url": "/user/x/", "hostname": "localhost", "pid": 9, "port": 8890, "token": ""}\n'
    "[JupyterServerListApp] some log line\n"
)


def test_server_list_is_read_as_the_container_prints_it():
    one, two = parse_server_list(SERVER_LIST)
    assert (one.port, one.token, one.base_url, one.pid) == (8888, "Zk3xq", "/", 7)
    assert not one.loopback_only and two.loopback_only and two.token == ""
    assert parse_server_list("not json\n{broken") == []


def test_jupyter_processes_from_podman_top():
    top = ("USER      COMMAND\n"
           "jovyan    tini -g -- start-notebook.sh\n"
           "jovyan    /opt/conda/bin/python3 /opt/conda/bin/jupyter-lab --IdentityProvider.t=x\n"
           "root      /usr/bin/python3 -m jupyter lab\n"
           "jovyan    /opt/conda/bin/python3 -m ipykernel_launcher -f /tmp/k.json\n")
    found = jupyter_processes(top)
    assert [(p.user, p.python) for p in found] == [("jovyan", "/opt/conda/bin/python3"),
                                                    ("root", "/usr/bin/python3")]
