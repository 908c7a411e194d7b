#include "clustermapview.h"

#include <QHelpEvent>
#include <QLocale>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace sb::console {

namespace {

constexpr int kFrameMs = 33;
constexpr int kMaxPulses = 400;

const QColor kInk(0x24, 0x29, 0x2f);
const QColor kMuted(0x6a, 0x73, 0x7d);
const QColor kLine(0xc9, 0xd1, 0xd9);
const QColor kRed(0xc0, 0x1c, 0x28);
const QColor kGreen(0x1b, 0x7f, 0x3b);
const QColor kAmber(0xb3, 0x6b, 0x00);
const QColor kRedis(0xd8, 0x2c, 0x20);

QColor healthColor(const QString &health)
{
    if (health == QLatin1StringView("ready"))
        return kGreen;
    if (health == QLatin1StringView("draining") || health == QLatin1StringView("connecting")
        || health == QLatin1StringView("reconnecting"))
        return kAmber;
    return kRed;
}

QString number(double value)
{
    return QLocale().toString(value, 'f', 0);
}

// A colour light enough to fill behind dark text.
QColor tint(const QColor &c, qreal amount)
{
    return QColor::fromRgbF(1 - (1 - c.redF()) * amount, 1 - (1 - c.greenF()) * amount, 1 - (1 - c.blueF()) * amount);
}

QPointF pointOnRect(const QRectF &r, const QPointF &towards)
{
    // Where the segment from the centre towards `towards` leaves the rectangle.
    const QPointF c = r.center();
    const QPointF d = towards - c;
    if (qFuzzyIsNull(d.x()) && qFuzzyIsNull(d.y()))
        return c;
    const qreal sx = d.x() != 0 ? (r.width() / 2) / std::abs(d.x()) : 1e9;
    const qreal sy = d.y() != 0 ? (r.height() / 2) / std::abs(d.y()) : 1e9;
    return c + d * std::min(sx, sy);
}

QPointF pointOnEllipse(const QRectF &r, const QPointF &towards)
{
    const QPointF c = r.center();
    const QPointF d = towards - c;
    const qreal a = r.width() / 2;
    const qreal b = r.height() / 2;
    const qreal k = 1.0 / std::sqrt((d.x() * d.x()) / (a * a) + (d.y() * d.y()) / (b * b) + 1e-12);
    return c + d * k;
}

} // namespace

ClusterMapView::ClusterMapView(ClusterMapModel &model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
{
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent);
    m_clock.start();
    m_frameTimer.setObjectName(QStringLiteral("ClusterMapView.frame"));
    m_frameTimer.setInterval(kFrameMs);
    connect(&m_frameTimer, &QTimer::timeout, this, &ClusterMapView::animate);
    // The still picture is redrawn at most twice a second, however often the
    // aggregate changes (stats, rates and counts each have their own pace).
    m_stillTimer.setObjectName(QStringLiteral("ClusterMapView.still"));
    m_stillTimer.setSingleShot(true);
    m_stillTimer.setInterval(500);
    connect(&m_stillTimer, &QTimer::timeout, this, [this] {
        m_stillDirty = true;
        update();
    });
    connect(&model, &ClusterMapModel::changed, this, [this] {
        if (m_still.isNull()) {
            m_stillDirty = true;
            update();
        } else if (!m_stillTimer.isActive()) {
            m_stillTimer.start();
        }
    });
    connect(&model, &ClusterMapModel::flowBursts, this, &ClusterMapView::onBursts);
}

void ClusterMapView::resizeEvent(QResizeEvent *event)
{
    QWidget::resizeEvent(event);
    m_stillDirty = true;
}

QColor ClusterMapView::colorOf(const QString &instance) const
{
    for (const ClusterMapModel::Instance &i : m_model.instances()) {
        if (i.id == instance)
            return i.color.isValid() ? i.color : QColor(Qt::gray);
    }
    return QColor(Qt::gray);
}

void ClusterMapView::layoutNodes()
{
    m_cards.clear();
    const QRectF area = QRectF(rect()).adjusted(8, 8, -8, -8);
    const qreal lbHeight = 34;
    const qreal lbWidth = std::min<qreal>(430, area.width() * 0.6);
    m_loadBalancer = hasLoadBalancer() ? QRectF(area.center().x() - lbWidth / 2, area.top(), lbWidth, lbHeight) : QRectF();
    const QRectF body = area.adjusted(0, m_loadBalancer.isNull() ? 0 : lbHeight + 12, 0, 0);
    const QPointF center = body.center();
    const qreal redisRadius = std::clamp(std::min(body.width(), body.height()) * 0.10, 30.0, 52.0);
    // Wide enough for its longest line ("local backplane", "unreachable", "12,345 msg/s").
    const qreal textWidth = QFontMetricsF(font()).horizontalAdvance(tr("local backplane")) + 28;
    const qreal redisWidth = std::max(redisRadius * 2.9, textWidth);
    m_redis = QRectF(center.x() - redisWidth / 2, center.y() - redisRadius, redisWidth, redisRadius * 2);

    const QList<ClusterMapModel::Instance> &instances = m_model.instances();
    const auto n = static_cast<int>(instances.size());
    if (n == 0)
        return;
    const qreal shrink = n > 4 ? 4.0 / n : 1.0;
    qreal cardWidth = std::clamp(body.width() * (n <= 2 ? 0.36 : 0.31), 190.0, 360.0) * shrink;
    qreal cardHeight = std::clamp(body.height() * 0.44, 120.0, 250.0) * shrink;
    if (n >= 3) // the card below Redis must clear it
        cardHeight = std::min(cardHeight, body.height() / 2 - redisRadius - 6);
    cardHeight = std::max(cardHeight, 96.0);
    const qreal rx = std::max(0.0, body.width() / 2 - cardWidth / 2);
    const qreal ry = std::max(0.0, body.height() / 2 - cardHeight / 2);
    for (int i = 0; i < n; ++i) {
        // Evenly around Redis, none straight above it (the load balancer is there).
        const qreal degrees = n == 1 ? 180.0 : -90.0 + 360.0 * (i + 0.5) / n;
        const qreal radians = degrees * std::numbers::pi / 180.0;
        const QPointF c(center.x() + rx * std::cos(radians), center.y() + ry * std::sin(radians));
        m_cards.insert(instances.at(i).id.isEmpty() ? instances.at(i).url.toString() : instances.at(i).id,
                       QRectF(c.x() - cardWidth / 2, c.y() - cardHeight / 2, cardWidth, cardHeight));
    }
}

void ClusterMapView::computeFlowRegion()
{
    constexpr int pad = 20; // the largest pulse with its halo
    m_flowRegion = QRegion();
    for (auto it = m_cards.cbegin(); it != m_cards.cend(); ++it) {
        const QPointF a = anchorTowardsRedis(it.key());
        const QPointF b = pointOnEllipse(m_redis, a);
        m_flowRegion += QRectF(a, b).normalized().toAlignedRect().adjusted(-pad, -pad, pad, pad);
    }
}

QPointF ClusterMapView::anchorTowardsRedis(const QString &instance) const
{
    const QRectF card = m_cards.value(instance);
    if (card.isNull())
        return m_redis.center();
    return pointOnRect(card, m_redis.center());
}

void ClusterMapView::renderStill()
{
    m_stillDirty = false;
    layoutNodes();
    computeFlowRegion();
    m_hits.clear();
    const qreal dpr = devicePixelRatioF();
    const QSize pixels = (QSizeF(size()) * dpr).toSize();
    if (m_still.size() != pixels || !qFuzzyCompare(m_still.devicePixelRatio(), dpr)) {
        m_still = QPixmap(pixels);
        m_still.setDevicePixelRatio(dpr);
    }
    m_still.fill(palette().color(QPalette::Base));
    QPainter p(&m_still);
    p.setRenderHint(QPainter::Antialiasing);

    const QList<ClusterMapModel::Instance> &instances = m_model.instances();
    // Load balancer links, behind everything: clients reach each instance through it.
    QPen lbPen(kLine, 1.5, Qt::DashLine);
    p.setPen(lbPen);
    p.setBrush(Qt::NoBrush);
    const QPointF lbBottom(m_loadBalancer.center().x(), m_loadBalancer.bottom());
    for (auto it = m_cards.cbegin(); it != m_cards.cend() && !m_loadBalancer.isNull(); ++it) {
        const QRectF card = it.value();
        QPainterPath path(lbBottom);
        if (card.top() < m_redis.top()) {
            path.lineTo(QPointF(card.center().x(), card.top()));
        } else {
            // Around Redis on the outside, behind the cards in the way.
            const qreal side = card.center().x() <= m_redis.center().x() - 1 ? rect().left() + 4 : rect().right() - 4;
            path.cubicTo(QPointF(side, lbBottom.y() + 20), QPointF(side, card.center().y()),
                         QPointF(card.center().x() < m_redis.center().x() ? card.left() : card.right(), card.center().y()));
        }
        p.drawPath(path);
    }

    // Instance <-> Redis links, thicker with more traffic.
    for (const ClusterMapModel::Instance &instance : instances) {
        const QString key = instance.id.isEmpty() ? instance.url.toString() : instance.id;
        if (!m_cards.contains(key))
            continue;
        const QPointF a = anchorTowardsRedis(key);
        const QPointF b = pointOnEllipse(m_redis, a);
        const bool linked = instance.live && instance.sharedBackplane && m_model.backplane().redisConfigured;
        QPen pen(linked ? tint(instance.color, 0.55) : kLine, linked ? 2 + std::log10(1 + instance.publishPerS) * 2 : 1.5,
                 linked ? Qt::SolidLine : Qt::DotLine);
        pen.setCapStyle(Qt::RoundCap);
        p.setPen(pen);
        p.drawLine(a, b);
        if (linked && instance.publishPerS > 0) {
            const QPointF mid = (a + b) / 2;
            const QString label = tr("%1/s").arg(number(instance.publishPerS));
            QFont f = font();
            f.setPointSizeF(f.pointSizeF() * 0.85);
            p.setFont(f);
            const QRectF box = QFontMetricsF(f).boundingRect(label).adjusted(-4, -1, 4, 1);
            const QRectF placed(mid.x() - box.width() / 2, mid.y() - box.height() / 2, box.width(), box.height());
            p.setPen(Qt::NoPen);
            p.setBrush(QColor(255, 255, 255, 220));
            p.drawRoundedRect(placed, 3, 3);
            p.setPen(kMuted);
            p.drawText(placed, Qt::AlignCenter, label);
            p.setFont(font());
        }
    }

    paintLoadBalancer(p);
    paintRedis(p);
    for (const ClusterMapModel::Instance &instance : instances) {
        const QString key = instance.id.isEmpty() ? instance.url.toString() : instance.id;
        if (m_cards.contains(key))
            paintCard(p, instance, m_cards.value(key));
    }
    if (!instances.isEmpty()) {
        QFont small = font();
        small.setPointSizeF(small.pointSizeF() * 0.85);
        p.setFont(small);
        p.setPen(kMuted);
        p.drawText(QRectF(rect()).adjusted(8, 0, -8, -4), Qt::AlignLeft | Qt::AlignBottom,
                   tr("Flow: %1 · click an instance or a room for its connections").arg(m_model.flowSource()));
        p.setFont(font());
    }
    if (instances.isEmpty()) {
        p.setPen(kMuted);
        p.drawText(QRectF(rect()).adjusted(20, m_redis.bottom() + 10, -20, -10), Qt::AlignHCenter | Qt::AlignTop | Qt::TextWordWrap,
                   m_model.backplane().redisConfigured ? tr("Looking for instances in Redis…")
                                                       : tr("No instance yet: add one (Console → Add instance…) or start with --redis."));
    }
}

bool ClusterMapView::hasLoadBalancer() const
{
    // Clients spread over several instances, or a token used on an instance
    // other than the one that issued it, came through one.
    return m_model.instances().size() > 1 || m_model.stickyRatio() < 1.0;
}

void ClusterMapView::paintLoadBalancer(QPainter &p)
{
    if (m_loadBalancer.isNull())
        return;
    p.setPen(QPen(kMuted, 1.2));
    p.setBrush(QColor(0xf6, 0xf8, 0xfa));
    p.drawRoundedRect(m_loadBalancer, 8, 8);
    const QLocale locale;
    const int misses = m_model.totalParticipants() - static_cast<int>(std::lround(m_model.stickyRatio() * m_model.totalParticipants()));
    const QString text = tr("Load balancer · %1 clients · sticky %2 %")
                             .arg(locale.toString(m_model.totalParticipants()),
                                  locale.toString(m_model.stickyRatio() * 100.0, 'f', 1));
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(kInk);
    p.drawText(m_loadBalancer.adjusted(8, 0, -8, 0), Qt::AlignCenter, text);
    p.setFont(font());
    m_hits.append({m_loadBalancer, QString(), QString(),
                   tr("Clients come in through the load balancer, which should keep each client on the instance "
                      "that issued its token.\n%1 of %2 live connections are sticky; %3 are sticky misses.")
                       .arg(m_model.totalParticipants() - misses)
                       .arg(m_model.totalParticipants())
                       .arg(misses)});
}

void ClusterMapView::paintRedis(QPainter &p)
{
    const ClusterMapModel::Backplane &b = m_model.backplane();
    QString title;
    QString line;
    QColor fill;
    QColor border;
    if (!b.redisConfigured) {
        title = tr("no Redis");
        line = tr("local backplane");
        fill = QColor(0xf6, 0xf8, 0xfa);
        border = kLine;
    } else if (b.redisState == QLatin1StringView("connected")) {
        title = tr("Redis");
        line = tr("%1 msg/s").arg(number(b.messagesPerS));
        fill = QColor(0xfd, 0xec, 0xea);
        border = kRedis;
    } else {
        title = tr("Redis");
        line = b.redisState;
        fill = QColor(0xf6, 0xf8, 0xfa);
        border = kRed;
    }
    p.setPen(QPen(border, 2, b.redisConfigured && b.redisState == QLatin1StringView("connected") ? Qt::SolidLine : Qt::DashLine));
    p.setBrush(fill);
    p.drawEllipse(m_redis);
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(b.redisConfigured ? kRedis : kMuted);
    const QRectF inner = m_redis.adjusted(4, 4, -4, -4);
    p.drawText(QRectF(inner.left(), inner.top(), inner.width(), inner.height() / 2), Qt::AlignHCenter | Qt::AlignBottom, title);
    p.setFont(font());
    p.setPen(b.redisState == QLatin1StringView("connected") || !b.redisConfigured ? kInk : kRed);
    p.drawText(QRectF(inner.left(), inner.center().y(), inner.width(), inner.height() / 2), Qt::AlignHCenter | Qt::AlignTop, line);
    m_hits.append({m_redis, QString(), QString(),
                   b.redisConfigured ? tr("Redis %1: %2\nFlow shown: %3").arg(b.redisAddress, b.redisState, m_model.flowSource())
                                     : tr("No Redis: each instance is its own cluster.\nFlow shown: %1").arg(m_model.flowSource())});
}

void ClusterMapView::paintCard(QPainter &p, const ClusterMapModel::Instance &instance, const QRectF &card)
{
    const QString id = instance.id.isEmpty() ? instance.url.authority() : instance.id;
    const bool alive = instance.live;
    const QColor color = alive ? instance.color : QColor(0xaa, 0xaa, 0xaa);
    const bool selected = m_selectedInstance == instance.id && m_selectedRoom.isEmpty() && !instance.id.isEmpty();

    // Card: white, a band of the instance's colour on top, the border over both.
    QPainterPath cardPath;
    cardPath.addRoundedRect(card, 8, 8);
    p.fillPath(cardPath, alive ? QColor(Qt::white) : QColor(0xf6, 0xf8, 0xfa));
    const QFontMetricsF fm(font());
    const qreal line = fm.height();
    const QRectF band(card.left(), card.top(), card.width(), line * 1.6);
    p.save();
    p.setClipPath(cardPath);
    p.fillRect(band, tint(color, 0.28));
    p.restore();
    p.setPen(QPen(selected ? kInk : tint(color, 0.7), selected ? 2.5 : 1.5, alive ? Qt::SolidLine : Qt::DashLine));
    p.setBrush(Qt::NoBrush);
    p.drawPath(cardPath);
    p.setPen(Qt::NoPen);

    // Header: colour dot, id, health badge.
    const qreal pad = 8;
    p.setBrush(color);
    p.drawEllipse(QRectF(card.left() + pad, band.center().y() - 5, 10, 10));
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(kInk);
    const QString health = instance.health.isEmpty() ? tr("unknown") : instance.health;
    const qreal healthWidth = QFontMetricsF(font()).horizontalAdvance(health) + 12;
    p.drawText(QRectF(card.left() + pad + 16, band.top(), card.width() - 2 * pad - 16 - healthWidth, band.height()),
               Qt::AlignVCenter | Qt::AlignLeft, QFontMetricsF(bold).elidedText(id, Qt::ElideRight, card.width() - 2 * pad - 16 - healthWidth));
    p.setFont(font());
    const QRectF badge(card.right() - pad - healthWidth, band.center().y() - line * 0.55, healthWidth, line * 1.1);
    p.setBrush(healthColor(health));
    p.drawRoundedRect(badge, line * 0.55, line * 0.55);
    p.setPen(Qt::white);
    p.drawText(badge, Qt::AlignCenter, health);

    // Load lines.
    const QLocale locale;
    QRectF text(card.left() + pad, band.bottom() + 3, card.width() - 2 * pad, line);
    p.setPen(kInk);
    const QString connections = instance.connections == 1 ? tr("1 connection")
                                                          : tr("%1 connections").arg(locale.toString(instance.connections));
    const QString load = alive ? tr("%1 · %2 in/s · %3 out/s")
                                     .arg(connections, number(instance.framesInPerS), number(instance.framesOutPerS))
                               : tr("no operator link");
    p.drawText(text, Qt::AlignLeft | Qt::AlignVCenter, fm.elidedText(load, Qt::ElideRight, text.width()));
    text.translate(0, line);
    if (instance.sharedBackplane && alive) {
        p.setPen(kMuted);
        p.drawText(text, Qt::AlignLeft | Qt::AlignVCenter,
                   fm.elidedText(tr("publishes %1/s · RTT %2 ms")
                                     .arg(number(instance.publishPerS), locale.toString(instance.rttMs, 'f', 1)),
                                 Qt::ElideRight, text.width()));
    }

    m_hits.append({card, instance.id, QString(),
                   tr("%1 (%2)\n%3 participants in %4 rooms, %5 operators\nClick for its connections.")
                       .arg(id, instance.url.toString())
                       .arg(instance.participants)
                       .arg(instance.roomCount)
                       .arg(instance.operators)});
    const QRectF clients(card.left() + pad, text.bottom() + 4, card.width() - 2 * pad, card.bottom() - text.bottom() - 4 - pad);
    if (clients.height() > line)
        paintRooms(p, instance, clients);
}

void ClusterMapView::paintRooms(QPainter &p, const ClusterMapModel::Instance &instance, const QRectF &area)
{
    const QLocale locale;
    const QFontMetricsF fm(font());
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    const QFontMetricsF sm(small);
    const qreal line = fm.height();
    p.setPen(kMuted);
    const QString summary = instance.participants == 0
                                ? tr("no clients")
                                : tr("%1 · %2").arg(instance.participants == 1 ? tr("1 client")
                                                                                : tr("%1 clients").arg(locale.toString(instance.participants)),
                                                    instance.roomCount == 1 ? tr("1 room")
                                                                            : tr("%1 rooms").arg(locale.toString(instance.roomCount)));
    const QRectF summaryBox(area.left(), area.top(), area.width(), line);
    p.drawText(summaryBox, Qt::AlignLeft | Qt::AlignVCenter, fm.elidedText(summary, Qt::ElideRight, summaryBox.width()));
    if (instance.stickyMisses > 0) {
        // Sticky misses in red after the summary: clients the load balancer sent to the wrong instance.
        const QString misses = tr(" · %1 sticky misses").arg(locale.toString(instance.stickyMisses));
        const qreal x0 = area.left() + fm.horizontalAdvance(summary);
        p.setPen(kRed);
        p.drawText(QRectF(x0, area.top(), std::max(0.0, area.right() - x0), line), Qt::AlignLeft | Qt::AlignVCenter,
                   fm.elidedText(misses, Qt::ElideRight, std::max(0.0, area.right() - x0)));
    }
    if (instance.rooms.isEmpty())
        return;

    // Room chips, largest first, flowing left to right; a chip's dot grows with its members.
    int biggest = 1;
    for (const ClusterMapModel::RoomGroup &g : instance.rooms)
        biggest = std::max(biggest, g.members);
    qreal x = area.left();
    qreal y = area.top() + line + 3;
    const qreal chipHeight = sm.height() + 6;
    int shown = 0;
    for (const ClusterMapModel::RoomGroup &g : instance.rooms) {
        const QString name = g.room.isEmpty() ? tr("(no room)") : g.room;
        const QString label = QStringLiteral("%1 %2").arg(name, locale.toString(g.members));
        const qreal dot = 6 + 6 * std::sqrt(double(g.members) / biggest);
        const qreal width = std::min(area.width(), dot + 16 + sm.horizontalAdvance(label));
        if (x + width > area.right() + 0.5) {
            x = area.left();
            y += chipHeight + 3;
        }
        if (y + chipHeight > area.bottom() + 0.5)
            break;
        const QRectF chip(x, y, width, chipHeight);
        const bool selected = instance.id == m_selectedInstance && g.room == m_selectedRoom && !m_selectedRoom.isEmpty();
        p.setPen(selected ? QPen(kInk, 1.5) : QPen(tint(instance.color, 0.35), 1));
        p.setBrush(tint(instance.color, 0.10));
        p.drawRoundedRect(chip, chipHeight / 2, chipHeight / 2);
        p.setPen(Qt::NoPen);
        p.setBrush(instance.live ? instance.color : QColor(0xaa, 0xaa, 0xaa));
        p.drawEllipse(QPointF(chip.left() + 4 + dot / 2, chip.center().y()), dot / 2, dot / 2);
        p.setFont(small);
        p.setPen(kInk);
        p.drawText(chip.adjusted(dot + 8, 0, -4, 0), Qt::AlignLeft | Qt::AlignVCenter,
                   sm.elidedText(label, Qt::ElideMiddle, chip.width() - dot - 12));
        p.setFont(font());
        m_hits.append({chip, instance.id, g.room,
                       tr("%1: %2 connections on %3\nClick for the list.").arg(name).arg(g.members).arg(instance.id)});
        x += width + 4;
        ++shown;
    }
    const int hidden = instance.roomCount + (instance.rooms.constLast().room.isEmpty() ? 1 : 0) - shown;
    if (hidden > 0) {
        p.setFont(small);
        p.setPen(kMuted);
        const QString more = tr("+%1 more rooms").arg(locale.toString(hidden));
        const qreal width = sm.horizontalAdvance(more) + 8;
        if (x + width > area.right()) {
            x = area.left();
            y += chipHeight + 3;
        }
        if (y + chipHeight <= area.bottom() + 0.5)
            p.drawText(QRectF(x, y, width, chipHeight), Qt::AlignCenter, more);
        p.setFont(font());
    }
}

void ClusterMapView::paintEvent(QPaintEvent *)
{
    if (m_stillDirty || m_still.size() != (QSizeF(size()) * devicePixelRatioF()).toSize())
        renderStill();
    QPainter p(this);
    p.drawPixmap(0, 0, m_still); // clipped to what needs repainting: usually only the flow paths
    if (m_pulses.isEmpty())
        return;
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(Qt::NoPen);
    const qint64 now = m_clock.elapsed();
    for (const Pulse &pulse : std::as_const(m_pulses)) {
        const qreal t = std::clamp(double(now - pulse.startMs) / pulse.durationMs, 0.0, 1.0);
        const QPointF at = pulse.from + (pulse.to - pulse.from) * t;
        QColor halo = pulse.color;
        halo.setAlphaF(0.25);
        p.setBrush(halo);
        p.drawEllipse(at, pulse.radius * 1.9, pulse.radius * 1.9);
        p.setBrush(pulse.color);
        p.drawEllipse(at, pulse.radius, pulse.radius);
    }
}

void ClusterMapView::onBursts(const QList<ClusterMapModel::FlowBurst> &bursts)
{
    if (!isVisible() || m_cards.isEmpty())
        return;
    const qint64 now = m_clock.elapsed();
    for (const ClusterMapModel::FlowBurst &b : bursts) {
        if (m_pulses.size() >= kMaxPulses)
            break;
        if (!m_cards.contains(b.origin))
            continue;
        Pulse pulse;
        pulse.from = anchorTowardsRedis(b.origin);
        pulse.to = pointOnEllipse(m_redis, pulse.from);
        pulse.startMs = now;
        pulse.color = colorOf(b.origin);
        pulse.radius = 3 + std::min(6.0, 1.5 * std::log2(1.0 + b.count));
        pulse.origin = b.origin;
        pulse.fanOutTo = b.targets;
        m_pulses.append(pulse);
        ++m_pulsesStarted;
    }
    if (!m_pulses.isEmpty() && !m_frameTimer.isActive())
        m_frameTimer.start();
}

void ClusterMapView::animate()
{
    const qint64 now = m_clock.elapsed();
    QList<Pulse> next;
    next.reserve(m_pulses.size());
    for (Pulse &pulse : m_pulses) {
        if (now - pulse.startMs < pulse.durationMs) {
            next.append(std::move(pulse));
            continue;
        }
        // Arrived at Redis: fan out to the instances with receivers.
        for (const QString &target : std::as_const(pulse.fanOutTo)) {
            if (!m_cards.contains(target) || next.size() >= kMaxPulses)
                continue;
            Pulse out;
            out.to = anchorTowardsRedis(target);
            out.from = pointOnEllipse(m_redis, out.to);
            out.startMs = now;
            out.color = pulse.color;
            out.radius = std::max<qreal>(2.5, pulse.radius * 0.8);
            out.origin = pulse.origin;
            next.append(out);
        }
    }
    m_pulses = std::move(next);
    if (m_pulses.isEmpty())
        m_frameTimer.stop();
    // Pulses only ever fly along the instance-Redis links: repaint just those.
    if (m_stillDirty)
        update();
    else
        update(m_flowRegion);
}

bool ClusterMapView::hitTest(const QPointF &pos, QString *instance, QString *room) const
{
    // Rooms were added after their card: search from the end for the innermost hit.
    for (auto it = m_hits.crbegin(); it != m_hits.crend(); ++it) {
        if (it->rect.contains(pos) && !it->instance.isEmpty()) {
            *instance = it->instance;
            *room = it->room;
            return true;
        }
    }
    return false;
}

QRectF ClusterMapView::cardRect(const QString &instance) const
{
    return m_cards.value(instance);
}

QRectF ClusterMapView::roomRect(const QString &instance, const QString &room) const
{
    for (const Hit &h : m_hits) {
        if (h.instance == instance && h.room == room && !room.isEmpty())
            return h.rect;
    }
    return {};
}

void ClusterMapView::setSelection(const QString &instance, const QString &room)
{
    m_selectedInstance = instance;
    m_selectedRoom = room;
    m_stillDirty = true;
    update();
}

void ClusterMapView::mousePressEvent(QMouseEvent *event)
{
    if (m_stillDirty)
        renderStill();
    QString instance;
    QString room;
    if (event->button() != Qt::LeftButton || !hitTest(event->position(), &instance, &room))
        return QWidget::mousePressEvent(event);
    setSelection(instance, room);
    if (room.isEmpty())
        Q_EMIT instanceClicked(instance);
    else
        Q_EMIT roomClicked(instance, room);
}

bool ClusterMapView::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip) {
        const auto *help = static_cast<QHelpEvent *>(event);
        for (auto it = m_hits.crbegin(); it != m_hits.crend(); ++it) {
            if (it->rect.contains(help->pos())) {
                QToolTip::showText(help->globalPos(), it->tooltip, this);
                return true;
            }
        }
        QToolTip::hideText();
        event->ignore();
        return true;
    }
    return QWidget::event(event);
}

} // namespace sb::console
