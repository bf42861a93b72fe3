"""One construct per domain; the stack only composes them."""
