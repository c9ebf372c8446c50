"""tounum.backbone"""
