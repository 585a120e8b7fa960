from flask import Blueprint, jsonify

custom_bp = Blueprint("custom", __name__)

@custom_bp.route("/custom/status")
def status():
    return jsonify({"status": "ok"})

def init_app(app):
    app.register_blueprint(custom_bp)
