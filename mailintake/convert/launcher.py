"""One warm LibreOffice behind unoserver's XML-RPC server, without unoserver's fixed start-up sleeps.

Run as a script by the Python that has LibreOffice's ``uno`` module (Debian's python3-uno, or
LibreOffice's own), never imported by mailintake: ``python3 -I launcher.py UNOSERVER_DIR PORT UNO_PORT
PROFILE_URL SOFFICE``. ``unoserver start`` waits 7 s before serving; here the server starts as soon as
LibreOffice accepts UNO connections (about a second on a quiet machine). Both listen on 127.0.0.1 only.
"""

import os
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.server


class _Hidden:
    """The desktop, loading every document with ``Hidden`` set."""

    def __init__(self, desktop: object) -> None:
        self._desktop = desktop

    def loadComponentFromURL(self, url: str, frame: str, flags: int, properties: tuple[object, ...]) -> object:
        from com.sun.star.beans import PropertyValue

        hidden = (PropertyValue(Name="Hidden", Value=True),)
        return self._desktop.loadComponentFromURL(url, frame, flags, tuple(properties) + hidden)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._desktop, name)


def main() -> int:
    unoserver_dir, port, uno_port, profile, soffice = sys.argv[1:6]
    sys.path.append(unoserver_dir)  # after the system's packages: only unoserver comes from there
    from unoserver import converter
    from unoserver.server import UnoServer

    class HiddenLoads(converter.UnoConverter):
        """Documents open hidden, as ``soffice --convert-to`` opens them: no view is laid out, so
        fields keep the values the file holds instead of being recalculated."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.desktop = _Hidden(self.desktop)  # type: ignore[has-type]

    converter.UnoConverter = HiddenLoads

    xmlrpc.server.SimpleXMLRPCRequestHandler.log_request = lambda *args, **kwargs: None  # type: ignore[method-assign]
    server = UnoServer(interface="127.0.0.1", port=port, uno_interface="127.0.0.1", uno_port=uno_port,
                       user_installation=profile)
    accept = f"socket,host=127.0.0.1,port={uno_port},tcpNoDelay=1;urp;StarOffice.ComponentContext"
    office = subprocess.Popen([soffice, "--headless", "--invisible", "--nocrashreport", "--nodefault", "--nologo",
                               "--nofirststartwizard", "--norestore", "--nolockcheck",
                               f"-env:UserInstallation={profile}", f"--accept={accept}"])
    server.libreoffice_process = office
    # LibreOffice gone (crashed, killed): so is this server, and the pool sees the instance ended
    threading.Thread(target=lambda: os._exit(office.wait() or 1), daemon=True).start()
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(uno_port)), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    server.serve()  # until the process group is killed
    return 1


if __name__ == "__main__":
    sys.exit(main())
