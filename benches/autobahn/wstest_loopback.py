# Python 2.7: runs Autobahn|Testsuite's `wstest` with the same arguments,
# except that the fuzzingserver listens on 127.0.0.1 only (wstest binds every
# interface); benches/autobahn/run.py starts wstest through this file.
import sys
import warnings

warnings.filterwarnings("ignore")  # cryptography's "Python 2 is no longer supported"

import autobahn.twisted.websocket as _ws  # no reactor installed by this import

_listen = _ws.listenWS


def _loopback_listen(factory, contextFactory=None, backlog=50, interface="127.0.0.1"):
    return _listen(factory, contextFactory, backlog, interface or "127.0.0.1")


_ws.listenWS = _loopback_listen

from autobahntestsuite.wstest import run  # noqa: E402 (after the patch, on purpose)

sys.exit(run())
