#pragma once

// Draws one chat row: the time in grey, the sender in bold in a colour of
// their own, then the text, wrapped to the view's width; pending rows grey
// and italic, failed rows red with the reason, notices centred. Reads only
// MessagesModel roles. Owned by the view it is set on.

#include <QPointer>
#include <QStyledItemDelegate>

class QAbstractItemView;
class QTextDocument;

namespace sb::console {

class MessageDelegate final : public QStyledItemDelegate
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MessageDelegate)
public:
    // Rows wrap to `view`'s width; the view also owns the delegate.
    explicit MessageDelegate(QAbstractItemView *view);

    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;
    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;

    static QString html(const QModelIndex &index);

private:
    void layout(QTextDocument &doc, const QStyleOptionViewItem &option, const QModelIndex &index) const;

    QPointer<QAbstractItemView> m_view;
};

} // namespace sb::console
