"""Scale-out backends (Ray); the core never imports them."""
