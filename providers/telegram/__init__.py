"""Telegram Bot API: ``sendMessage`` (raw client), the alert message (HTML, escaped) and a bounded outbox."""
