"""A Bot API emulator for tests: real HTTP on 127.0.0.1, validated against the Bot API spec."""
