"""The command line: main dispatches; common is the kit the commands share."""
