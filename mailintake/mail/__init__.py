"""Reading raw mail: header repair, MIME walking, attachment typing and archive unpacking."""
