"""tounum.classify"""
