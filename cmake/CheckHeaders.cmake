# Header self-containment check.
