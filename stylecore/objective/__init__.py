"""What is minimised: pure loss functions, the loss terms built from them, and regions."""
