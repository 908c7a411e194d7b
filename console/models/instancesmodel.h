#pragma once

// One row per watched instance: id, colour, health (ready / draining / dead /
// not responding / key refused), connections, frames per second and backplane
// round trip. Rows are keyed by the instance's URL (given by the operator or
// found in Redis); the operator services fill in the rest. Owned by
// OperatorSession.

#include "services/backplanetypes.h"

#include <QAbstractTableModel>
#include <QColor>
#include <QList>
#include <QUrl>

namespace sb::console {

class InstancesModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(InstancesModel)
public:
    enum Column { Id, Health, Connections, FramesPerS, Rtt, Backplane, Url, ColumnCount };
    enum Roles {
        UrlRole = Qt::UserRole + 1,
        InstanceIdRole,
        HealthRole,
        DetailRole,
        ColorRole,
        LiveRole,      // the operator link is up (connected or not responding)
        FramesInRole,  // frames in per second, as a number
        FramesOutRole,
        RttRole,       // backplane round trip in ms
    };
    enum class Link { Idle, Connecting, Connected, Hung, Retrying, KeyRefused };

    explicit InstancesModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void addInstance(const QUrl &url);
    void removeInstance(const QUrl &url);
    void setLink(const QUrl &url, Link link, const QString &detail = {});
    void setInfo(const QUrl &url, const InstanceInfo &info);
    void setStats(const QUrl &url, const InstanceStats &stats);
    void setReadiness(const QUrl &url, const QString &status, const QString &reason);
    // What the instance's Redis heartbeat says; `present` false once its key expired.
    void setHeartbeat(const QUrl &url, bool present, const DiscoveredInstance &heartbeat = {});

    int rowOf(const QUrl &url) const;
    QUrl urlAt(int row) const;
    QString instanceIdAt(int row) const;
    // "ready", "draining", "dead", "not responding", "key refused", "connecting", …
    QString healthAt(int row) const;
    QString detailAt(int row) const;
    QStringList instanceIds() const;
    static QColor colorFor(const QString &name);

private:
    struct Row
    {
        QUrl url;
        InstanceInfo info;
        InstanceStats stats;
        bool haveStats = false;
        Link link = Link::Idle;
        QString linkDetail;
        QString readiness; // from /readyz
        QString readinessReason;
        bool discovered = false;   // found through Redis
        qint64 heartbeatLostAt = 0; // its heartbeat key expired (0: present or unknown)
    };
    QString health(const Row &row) const;
    QString detail(const Row &row) const;
    void rowChanged(int row);

    QList<Row> m_rows;
};

} // namespace sb::console
