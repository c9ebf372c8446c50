"""tounum.enhance"""
