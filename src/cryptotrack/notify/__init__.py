"""Notification channels: what sends a message to a webhook, Telegram, Discord, Slack or
ntfy, and how each answer is read (delivered, try again later, or refused for good).

Named ``notify`` (not ``channels``): ``channels`` is Django Channels' package and app label.
"""
