"""tounum.pipeline"""
