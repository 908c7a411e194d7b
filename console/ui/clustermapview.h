#pragma once

// The cluster map, painted: Redis in the middle, the instances around it as
// cards in their colour (state, connections, frames/s, publishes/s, sticky
// misses) with their clients grouped inside per room (largest rooms as
// bubbles, the rest counted), the load balancer on top with the stickiness
// ratio, and message flow as pulses: publish from an instance to Redis, then
// fan-out to the instances that have receivers. The still picture is
// rendered into a pixmap only when the aggregate changes (at most twice a
// second); animation frames (30/s, only while pulses fly) repaint just the
// links the pulses fly along, so the map stays smooth at any number of
// connections.
// Clicking an instance or a room asks for its details. Owned by
// ClusterMapPanel; reads ClusterMapModel.

#include "models/clustermapmodel.h"

#include <QElapsedTimer>
#include <QPixmap>
#include <QRegion>
#include <QTimer>
#include <QWidget>

namespace sb::console {

class ClusterMapView final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ClusterMapView)
public:
    explicit ClusterMapView(ClusterMapModel &model, QWidget *parent = nullptr);

    QSize sizeHint() const override { return {820, 480}; }
    QSize minimumSizeHint() const override { return {420, 300}; }

    // Pulses currently drawn (tests and the benchmark look at this).
    int pulsesInFlight() const { return static_cast<int>(m_pulses.size()); }
    qint64 pulsesStarted() const { return m_pulsesStarted; }
    // The instance and room under `pos` (room empty for the card itself).
    bool hitTest(const QPointF &pos, QString *instance, QString *room) const;
    // Where an instance's card is drawn (empty when it is not).
    QRectF cardRect(const QString &instance) const;
    QRectF roomRect(const QString &instance, const QString &room) const;
    void setSelection(const QString &instance, const QString &room);

Q_SIGNALS:
    void instanceClicked(const QString &instance);
    void roomClicked(const QString &instance, const QString &room);

protected:
    void paintEvent(QPaintEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    bool event(QEvent *event) override;

private:
    struct Pulse
    {
        QPointF from;
        QPointF to;
        qint64 startMs = 0;
        int durationMs = 450;
        QColor color;
        qreal radius = 4;
        QString origin;
        QStringList fanOutTo; // spawned from Redis when this one arrives
    };
    struct Hit
    {
        QRectF rect;
        QString instance;
        QString room;
        QString tooltip;
    };

    void layoutNodes();
    void computeFlowRegion();
    void renderStill();
    void paintCard(QPainter &p, const ClusterMapModel::Instance &instance, const QRectF &card);
    void paintRooms(QPainter &p, const ClusterMapModel::Instance &instance, const QRectF &area);
    void paintRedis(QPainter &p);
    void paintLoadBalancer(QPainter &p);
    void onBursts(const QList<ClusterMapModel::FlowBurst> &bursts);
    void animate();
    QPointF anchorTowardsRedis(const QString &instance) const;
    QColor colorOf(const QString &instance) const;

    ClusterMapModel &m_model;
    QPixmap m_still;
    bool m_stillDirty = true;
    QHash<QString, QRectF> m_cards; // instance id -> card
    QRectF m_redis;
    QRectF m_loadBalancer; // null when none is in front of the instances
    bool hasLoadBalancer() const;
    QList<Hit> m_hits;
    QRegion m_flowRegion; // where pulses can be
    QList<Pulse> m_pulses;
    QElapsedTimer m_clock;
    QTimer m_frameTimer;
    QTimer m_stillTimer;
    qint64 m_pulsesStarted = 0;
    QString m_selectedInstance;
    QString m_selectedRoom;
};

} // namespace sb::console
