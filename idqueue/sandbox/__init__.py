"""The built-in sandbox: loopback Slack and GitHub emulators with a seeded support month."""
