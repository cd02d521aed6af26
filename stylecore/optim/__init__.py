"""How it is minimised: one scale's optimizer, a whole run, memory and device policy."""
