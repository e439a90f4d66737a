"""Azure Custom Vision wire format: the Training and Prediction routers and their JSON shapes."""
