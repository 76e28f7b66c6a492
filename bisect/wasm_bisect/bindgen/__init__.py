"""bindgen"""
