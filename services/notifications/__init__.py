"""The notifications service: notifications, broadcasts, read and dismiss state, e-mail deliveries."""
