"""Base models: finding a tokenizer and weights (the demo, a local folder, a hub id) and building the
offline demo model. Below data/: preparing data counts tokens with these tokenizers."""
