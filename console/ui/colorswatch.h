#pragma once

// A small filled circle in an instance's colour, so "which instance am I on"
// reads at a glance. Owned by the window that shows it.

#include <QColor>
#include <QWidget>

namespace sb::console {

class ColorSwatch final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ColorSwatch)
public:
    explicit ColorSwatch(QWidget *parent = nullptr);

    void setColor(const QColor &color);
    QColor color() const { return m_color; }
    QSize sizeHint() const override { return {16, 16}; }

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    QColor m_color{Qt::gray};
};

} // namespace sb::console
