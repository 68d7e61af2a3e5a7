"""The `carelane` commands, one module per group of commands (interface.md section 3)."""
