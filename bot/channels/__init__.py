"""Input and output channels that Rasa lacks, and validation shared by Tandem's channels."""
