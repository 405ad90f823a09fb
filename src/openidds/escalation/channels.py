"""The ways a notification travels: the clinic's transports."""

from enum import Enum


class Channel(str, Enum):
    """A transport a notification is sent by: e-mail (SMTP), a webhook (a paging system), the web app's alarm board."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    BOARD = "board"
