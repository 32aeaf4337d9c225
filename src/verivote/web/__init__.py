"""The web: the check-in API of polling day (`checkin`, `batcher`, `asgi`), the public website
and its JSON API (`site`), and the application that serves them together (`app`)."""
