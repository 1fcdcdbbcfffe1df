"""Real feed readers, a browser and a simulated month of scraping, driven
against feedsvc served on 127.0.0.1."""
