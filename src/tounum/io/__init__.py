"""tounum.io"""
