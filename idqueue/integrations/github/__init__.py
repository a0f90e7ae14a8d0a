"""GitHub: issue polling over httpx with ETags (``source``) and write-backs (``writer``)."""
