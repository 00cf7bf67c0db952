"""OneDep's messaging web service (`/service/messaging/*`) over this library.

The top floor of the stack: `wsgi.py` (the WSGI entry, where a request is
parsed once with WebOb), `MessagingWebApp.py` (OneDep's class, for sites whose
own WSGI shim calls it), `app.py` (routing and replies), `handlers.py` (one
small function per endpoint, each calling MessagingIo through
`create_messaging_service`), `pages.py` (the front end's HTML templates),
`sessions.py` (session folders and uploads), `static.py` and `server.py`
(`msgmodule serve`). Nothing below this package imports it.
"""
