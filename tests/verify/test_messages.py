"""Jupyter messaging v5: the request we send and how replies are collected (plain data)."""

from dockyard.verify.messages import Execution, execute_request


def _msg(kind, content, parent="m1", channel="iopub"):
    return {"header": {"msg_type": kind}, "parent_header": {"msg_id": parent},
            "content": content, "channel": channel}


def test_execute_request_shape():
    msg = execute_request("1+1", session="s", msg_id="m1", user_expressions={"r": "x"})
    assert msg["channel"] == "shell"
    assert msg["header"]["msg_type"] == "execute_request"
    assert msg["header"]["msg_id"] == "m1" and msg["header"]["session"] == "s"
    assert msg["header"]["version"].startswith("5.")
    assert msg["content"]["code"] == "1+1"
    assert msg["content"]["allow_stdin"] is False
    assert msg["content"]["user_expressions"] == {"r": "x"}


def test_execution_collects_until_idle_and_ignores_other_parents():
    run = Execution("m1")
    assert not run.feed(_msg("status", {"execution_state": "busy"}))
    assert not run.feed(_msg("stream", {"name": "stdout", "text": "other"}, parent="zz"))
    run.feed(_msg("stream", {"name": "stdout", "text": "a\n"}))
    run.feed(_msg("stream", {"name": "stderr", "text": "warn\n"}))
    run.feed(_msg("stream", {"name": "stdout", "text": "b\n"}))
    run.feed(_msg("execute_result", {"data": {"text/plain": "2"}}))
    assert not run.feed(_msg("status", {"execution_state": "idle"}))  # iopub may run ahead
    assert run.feed(_msg("execute_reply", {"status": "ok", "user_expressions": {
        "result": {"status": "ok", "data": {"text/plain": "'[1]'"}},
        "broken": {"status": "error", "ename": "NameError"}}}, channel="shell"))
    assert (run.stdout, run.stderr, run.result, run.reply_status) == ("a\nb\n", "warn\n", "2", "ok")
    assert run.expressions == {"result": "'[1]'"}
    assert run.error is None


def test_execution_error_comes_with_the_reply_even_without_iopub():
    run = Execution("m1")
    run.feed(_msg("execute_reply", {"status": "error", "ename": "ImportError", "evalue": "no",
                                    "traceback": ["t1", "t2"]}, channel="shell"))
    assert run.error == "ImportError: no" and run.traceback == ("t1", "t2") and run.done


def test_a_kernel_death_notice_ends_the_execution():
    run = Execution("m1")
    run.feed(_msg("stream", {"name": "stdout", "text": "x"}))
    # the server's notice has no parent
    assert run.feed({"header": {"msg_type": "status"}, "parent_header": {},
                     "content": {"execution_state": "restarting"}, "channel": "iopub"})
    assert run.died and run.stdout == "x"
