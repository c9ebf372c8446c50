"""tounum.caption"""
